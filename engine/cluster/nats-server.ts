/**
 * What Parley knows about running nats-server, written once for `parley cluster`
 * (local-cluster.ts) and the test suite (test/helpers/nats-server.ts): the configuration
 * of one JetStream server, optionally a cluster member, and when it is ready.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export interface NatsServerSpec {
  name: string;
  /** Holds server.conf, server.log and the JetStream store (js/). */
  dir: string;
  /** Client port. */
  port: number;
  /** Monitoring port (/healthz, /jsz). */
  monitorPort: number;
  /** Cluster members only: this server's route port and the other members' route ports. */
  cluster?: { name: string; port: number; routes: number[] };
  /** JetStream `sync_interval` ('always', '10s', …); none: the server's default. */
  syncInterval?: string;
}

export const natsLogFile = (spec: NatsServerSpec): string => join(spec.dir, 'server.log');
export const natsStoreDir = (spec: NatsServerSpec): string => join(spec.dir, 'js');

/** The server's configuration file, loopback only. */
export function natsServerConfig(spec: NatsServerSpec): string {
  const sync = spec.syncInterval === undefined ? '' : `, sync_interval: "${spec.syncInterval}"`;
  const lines = [
    `server_name: ${spec.name}`,
    `listen: 127.0.0.1:${spec.port}`,
    `http: 127.0.0.1:${spec.monitorPort}`,
    `log_file: "${natsLogFile(spec)}"`,
    `jetstream { store_dir: "${natsStoreDir(spec)}"${sync} }`,
  ];
  if (spec.cluster) {
    const routes = spec.cluster.routes.map((p) => `nats-route://127.0.0.1:${p}`).join(', ');
    lines.push(`cluster { name: ${spec.cluster.name}, listen: 127.0.0.1:${spec.cluster.port}, routes: [${routes}] }`);
  }
  return lines.join('\n') + '\n';
}

async function monitor(spec: NatsServerSpec, path: string): Promise<{ ok: boolean; body: unknown }> {
  const res = await fetch(`http://127.0.0.1:${spec.monitorPort}${path}`, { signal: AbortSignal.timeout(1000) });
  const text = await res.text();
  try {
    return { ok: res.ok, body: JSON.parse(text) };
  } catch {
    return { ok: res.ok, body: text }; // an older server may answer /healthz in plain text
  }
}

/**
 * Resolves once the server answers /healthz and, for a cluster member, its JetStream meta
 * group has a leader (/healthz passes before that, and no stream can be made until then).
 * Rejects when `process` exits first or the deadline passes.
 */
export async function natsServerReady(spec: NatsServerSpec, process: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const up = async () => (await monitor(spec, '/healthz')).ok;
  const led = async () => !spec.cluster || Boolean(((await monitor(spec, '/jsz')).body as { meta_cluster?: { leader?: string } }).meta_cluster?.leader);
  for (const check of [up, led]) {
    for (;;) {
      if (process.exitCode !== null || process.signalCode !== null) {
        throw new Error(`nats-server ${spec.name} exited (${process.exitCode ?? process.signalCode}) before it was ready; see ${natsLogFile(spec)}`);
      }
      if (await check().catch(() => false)) break;
      if (Date.now() > deadline) throw new Error(`nats-server ${spec.name} not ready within ${timeoutMs} ms; see ${natsLogFile(spec)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

interface MetaCluster {
  /** The cluster's name. */
  name?: string;
  leader?: string;
  /** The leader's peer id, as every member reports it. */
  peer?: string;
  replicas?: { name: string; current?: boolean }[];
}

/**
 * Resolves once one member leads the JetStream meta group and sees every other member as a
 * current peer. A leader needs only a quorum, so a cluster with one member not (yet) joined
 * passes `natsServerReady` on every member and then refuses every R3 stream with "no
 * suitable peers for placement"; this is the check that the whole cluster formed.
 * Rejects with what the leader saw when the deadline passes.
 */
export async function natsClusterFormed(specs: NatsServerSpec[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let seen = 'no member answered /jsz';
  for (;;) {
    const metas = await Promise.all(
      specs.map(async (spec) => ((await monitor(spec, '/jsz').catch(() => ({ body: {} }))).body as { meta_cluster?: MetaCluster }).meta_cluster),
    );
    for (const [i, spec] of specs.entries()) {
      const meta = metas[i];
      if (!meta?.leader || meta.leader !== spec.name) continue;
      const peers = meta.replicas ?? [];
      const current = peers.filter((r) => r.current).map((r) => r.name);
      if (current.length >= specs.length - 1) return;
      // A follower is "current" only while it has caught up and was heard from lately, which
      // a starved machine can keep false for long: every member naming this very leader (its
      // peer id, unique per server, in this cluster) and the leader knowing every other member
      // as a peer is the same proof that all joined.
      const others = specs.filter((o) => o !== spec).map((o) => o.name);
      const followed = metas.every((m) => m?.name === meta.name && m?.leader === spec.name && m?.peer === meta.peer);
      if (followed && others.every((n) => peers.some((r) => r.name === n))) return;
      seen = `meta leader ${spec.name} sees current peers [${current.join(', ')}] of ${specs.length - 1}; members name leaders [${metas.map((m) => m?.leader ?? '-').join(', ')}]`;
    }
    if (Date.now() > deadline) throw new Error(`nats-server cluster did not form within ${timeoutMs} ms: ${seen}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
