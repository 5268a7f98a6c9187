/**
 * A cluster on one machine, for trying Parley out (`parley cluster`): a 3-server NATS
 * JetStream cluster and N Parley nodes on consecutive ports, all child processes.
 *
 * Layout under the data directory: `nats-<i>/` (server.conf, server.log, js/ store) per
 * NATS server, `node-<i>/` (read models, node id, parley.log) per node, and `jwt-secret`,
 * shared by every node so a token works on all of them (`parley token --data-dir DIR`).
 * Stopping stops the nodes first (they record their users going offline, which needs
 * NATS), then the NATS servers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const PARLEY_BIN = fileURLToPath(new URL('../../bin/parley.js', import.meta.url));
const READY_TIMEOUT_MS = 30_000;

export interface LocalClusterOptions {
  nodes: number;
  basePort: number;
  dataDir: string;
  /** The nats-server binary (default NATS_SERVER_BIN, else `nats-server` on PATH). */
  natsServerBin?: string;
  natsServers?: number;
  /** Extra environment for the nodes (heartbeat knobs, log level, …). */
  nodeEnv?: Record<string, string>;
  /** Told when a child exits while the cluster is meant to run. */
  onUnexpectedExit?(what: string, code: number | string): void;
}

export interface LocalProcess {
  name: string;
  pid: number;
  /** nats://… for NATS servers, http://… for nodes. */
  url: string;
  log: string;
}

export interface LocalCluster {
  readonly nats: LocalProcess[];
  readonly nodes: LocalProcess[];
  readonly dataDir: string;
  /** Stops the nodes, then NATS; resolves when every child has exited. */
  stop(): Promise<void>;
}

interface Child {
  info: LocalProcess;
  process: ChildProcess;
  exited: Promise<void>;
}

export async function startLocalCluster(o: LocalClusterOptions): Promise<LocalCluster> {
  const dataDir = resolve(o.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const secret = process.env.PARLEY_JWT_SECRET || sharedSecret(dataDir);
  const children: Child[] = [];
  let stopping = false;
  // Children run in their own process groups, so a Ctrl-C reaches only this process, which
  // stops them in order (nodes before NATS). If this process dies first, take them along.
  const killAll = () => {
    for (const c of children) if (c.process.exitCode === null && c.process.signalCode === null) c.process.kill('SIGKILL');
  };
  process.once('exit', killAll);
  const track = (info: Omit<LocalProcess, 'pid'>, child: ChildProcess): Child => {
    const exited = new Promise<void>((r) =>
      child.once('exit', (code, signal) => {
        if (!stopping) o.onUnexpectedExit?.(info.name, code ?? signal ?? -1);
        r();
      }),
    );
    const c = { info: { ...info, pid: child.pid ?? -1 }, process: child, exited };
    children.push(c);
    return c;
  };
  const stop = async (): Promise<void> => {
    stopping = true;
    const nodes = children.filter((c) => c.info.url.startsWith('http'));
    const servers = children.filter((c) => !c.info.url.startsWith('http'));
    await Promise.all(nodes.map((c) => terminate(c)));
    await Promise.all(servers.map((c) => terminate(c)));
    process.off('exit', killAll);
  };

  try {
    const bin = o.natsServerBin ?? process.env.NATS_SERVER_BIN ?? 'nats-server';
    const servers = await startNatsServers(dataDir, o.natsServers ?? 3, bin, track).catch(async (err: Error) => {
      // A port picked as free can be taken before the server binds it: try fresh ports once.
      if (/cannot start/.test(err.message)) throw err;
      await Promise.all(children.splice(0).map((c) => terminate(c)));
      return startNatsServers(dataDir, o.natsServers ?? 3, bin, track);
    });
    const natsUrl = servers.map((s) => s.info.url).join(',');
    const nodes: Child[] = [];
    for (let i = 0; i < o.nodes; i++) {
      const dir = join(dataDir, `node-${i + 1}`);
      mkdirSync(dir, { recursive: true });
      const log = join(dir, 'parley.log');
      const { PARLEY_NODE_ID: _sameForAll, ...inherited } = process.env; // each node keeps its own id
      const child = spawn(process.execPath, [PARLEY_BIN, 'serve'], {
        env: {
          ...inherited,
          PORT: String(o.basePort + i),
          HOST: process.env.HOST ?? '127.0.0.1',
          DATA_DIR: dir,
          NATS_URL: natsUrl,
          PARLEY_REPLICAS: String(Math.min(3, servers.length)),
          PARLEY_JWT_SECRET: secret,
          ...o.nodeEnv,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      nodes.push(track({ name: `node-${i + 1}`, url: '', log }, child));
      // The first node creates the stream; the others start once it exists.
      if (i === 0) nodes[0]!.info.url = await listeningUrl(child, log);
    }
    await Promise.all(nodes.slice(1).map(async (n) => (n.info.url = await listeningUrl(n.process, n.info.log))));
    return { nats: servers.map((s) => s.info), nodes: nodes.map((n) => n.info), dataDir, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function terminate(c: Child): Promise<void> {
  if (c.process.exitCode !== null || c.process.signalCode !== null) return;
  c.process.kill('SIGTERM');
  const timer = setTimeout(() => c.process.kill('SIGKILL'), 10_000);
  await c.exited;
  clearTimeout(timer);
}

function sharedSecret(dataDir: string): string {
  const file = join(dataDir, 'jwt-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const value = randomBytes(32).toString('base64url');
  writeFileSync(file, value, { mode: 0o600 });
  return value;
}

/** Copies the node's output to its log file and resolves with its URL once it listens. */
function listeningUrl(child: ChildProcess, logFile: string): Promise<string> {
  const log = createWriteStream(logFile, { flags: 'a' });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  return new Promise((resolvePromise, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error(`a node did not start within ${READY_TIMEOUT_MS} ms; see ${logFile}`)), READY_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop()!;
      for (const line of lines) {
        if (!line.includes('parley node listening')) continue;
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        try {
          resolvePromise(JSON.parse(line).url);
        } catch {
          reject(new Error(`unreadable start-up line: ${line}`));
        }
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`a node exited (${code ?? signal}) before listening; see ${logFile}`));
    });
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePromise(port));
    });
  });
}

async function startNatsServers(
  dataDir: string,
  count: number,
  bin: string,
  track: (info: Omit<LocalProcess, 'pid'>, child: ChildProcess) => Child,
): Promise<Child[]> {
  const specs = [];
  for (let i = 0; i < count; i++) {
    specs.push({ name: `n${i + 1}`, port: await freePort(), monitor: await freePort(), route: await freePort(), dir: join(dataDir, `nats-${i + 1}`) });
  }
  const servers: Child[] = [];
  for (const s of specs) {
    mkdirSync(s.dir, { recursive: true });
    const lines = [
      `server_name: ${s.name}`,
      `listen: 127.0.0.1:${s.port}`,
      `http: 127.0.0.1:${s.monitor}`,
      `log_file: "${join(s.dir, 'server.log')}"`,
      `jetstream { store_dir: "${join(s.dir, 'js')}" }`,
    ];
    if (count > 1) {
      const routes = specs.filter((o) => o !== s).map((o) => `nats-route://127.0.0.1:${o.route}`);
      lines.push(`cluster { name: parley-local, listen: 127.0.0.1:${s.route}, routes: [${routes.join(', ')}] }`);
    }
    const conf = join(s.dir, 'server.conf');
    writeFileSync(conf, lines.join('\n') + '\n');
    const child = spawn(bin, ['-c', conf], { stdio: 'ignore', detached: true });
    const spawned = new Promise<void>((ok, fail) => {
      child.once('spawn', () => ok());
      child.once('error', (err) => fail(new Error(`cannot start ${bin} (set NATS_SERVER_BIN or put nats-server on PATH): ${err.message}`)));
    });
    servers.push(track({ name: `nats-${s.name}`, url: `nats://127.0.0.1:${s.port}`, log: join(s.dir, 'server.log') }, child));
    await spawned;
  }
  // Ready = healthy, and for a cluster a JetStream meta leader (streams cannot be made before).
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (const [i, s] of specs.entries()) {
    for (;;) {
      const child = servers[i]!.process;
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`nats-server ${s.name} exited; see ${join(s.dir, 'server.log')}`);
      const ok = await fetch(`http://127.0.0.1:${s.monitor}/jsz`, { signal: AbortSignal.timeout(1000) })
        .then(async (r) => r.ok && (count === 1 || Boolean(((await r.json()) as { meta_cluster?: { leader?: string } }).meta_cluster?.leader)))
        .catch(() => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`nats-server ${s.name} not ready within ${READY_TIMEOUT_MS} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return servers;
}
