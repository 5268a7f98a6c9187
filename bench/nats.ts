/**
 * A 3-server NATS JetStream cluster for the cluster scenario: `nats-server` from PATH (or
 * NATS_SERVER_BIN), random loopback ports, a temp store dir each, full-mesh routes. The
 * processes are registered with procs.ts, so a run that ends or fails stops them too.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, tempDir, track } from './procs.js';

export interface NatsCluster {
  /** Client URLs, one per server. */
  urls: string[];
  stop(): Promise<void>;
}

export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  let stopping = false;
  const bin = process.env.NATS_SERVER_BIN ?? 'nats-server';
  const ports = await Promise.all(Array.from({ length: size }, async () => ({ client: await freePort(), route: await freePort(), http: await freePort() })));
  const servers = ports.map((p, i) => {
    const dir = tempDir('parley-bench-nats-');
    const routes = ports.filter((_, j) => j !== i).map((q) => `nats-route://127.0.0.1:${q.route}`);
    const conf = join(dir, 'server.conf');
    writeFileSync(
      conf,
      [
        `server_name: bench-n${i + 1}`,
        `listen: 127.0.0.1:${p.client}`,
        `http: 127.0.0.1:${p.http}`,
        `log_file: "${join(dir, 'server.log')}"`,
        `jetstream { store_dir: "${join(dir, 'js')}" }`,
        `cluster { name: parley-bench, listen: 127.0.0.1:${p.route}, routes: [${routes.join(', ')}] }`,
      ].join('\n') + '\n',
    );
    const child = spawn(bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    // nats-server exits 1 on SIGTERM; that is not worth a message.
    const { exited } = track(child, `nats-server ${i + 1}`, () => stopping);
    return { child, exited };
  });
  // Ready = every server reports JetStream healthy (meta leader elected, routes up).
  const deadline = Date.now() + 30_000;
  for (const p of ports) {
    for (;;) {
      try {
        const res = await fetch(`http://127.0.0.1:${p.http}/healthz?js-enabled-only=true`);
        if (res.ok && (await fetch(`http://127.0.0.1:${p.http}/healthz`)).ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error('NATS cluster not healthy within 30 s');
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return {
    urls: ports.map((p) => `nats://127.0.0.1:${p.client}`),
    async stop() {
      stopping = true;
      for (const s of servers) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGTERM');
      await Promise.all(servers.map((s) => s.exited));
    },
  };
}
