/**
 * Cluster: the fan-out workload across 3 Parley nodes sharing their log in a 3-server
 * NATS JetStream cluster (stream R3), against one Parley node (SQLite), same load. In
 * the cluster each room's members are spread over the 3 nodes round robin, so most
 * deliveries cross nodes (sender's node → JetStream → the other nodes' store feeds).
 * Saturation first, then both at the same fixed rate (half the slower one's saturated
 * rate) for latency, as in `fanout`.
 */
import { Histogram } from '../load/histogram.js';
import { startNatsCluster, type NatsCluster } from '../nats.js';
import { startLoad, startParley, type LoadChild, type Server } from '../procs.js';
import { addRatios, progressLine, type Row, type ScenarioResult } from '../report.js';
import type { RunOptions } from '../main.js';
import { topSelfTime } from '../profile.js';

export const name = 'cluster';

const CLUSTER = '3 nodes (NATS R3)';
const SINGLE = '1 node (SQLite)';

export async function run(opts: RunOptions): Promise<Omit<ScenarioResult, 'seconds'>> {
  const knobs = opts.quick
    ? { rooms: 40, membersPerRoom: 10, textBytes: 100, window: 8, warmupMs: 1000, durationMs: 3000, loadProcesses: 2, rateFraction: 0.5, natsServers: 3, replicas: 3 }
    : { rooms: 200, membersPerRoom: 10, textBytes: 100, window: 8, warmupMs: 2000, durationMs: 10_000, loadProcesses: 2, rateFraction: 0.5, natsServers: 3, replicas: 3 };
  const notes: string[] = [];
  const servers: Server[] = [];
  const loads = new Map<string, LoadChild[]>();
  let nats: NatsCluster | undefined;
  const prof = opts.profileDir ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`] } : {};
  try {
    progressLine(`starting ${knobs.natsServers} nats-servers`);
    nats = await startNatsCluster(knobs.natsServers);
    const clusterUrls: string[] = [];
    for (let i = 0; i < 3; i++) {
      progressLine(`starting Parley node ${i + 1}/3 on NATS`);
      // Each node lists its "own" NATS server first, so connections spread over the servers.
      const natsUrl = [nats.urls[i % nats.urls.length]!, ...nats.urls.filter((_, j) => j !== i % nats!.urls.length)].join(',');
      const node = await startParley({ ...prof, env: { NATS_URL: natsUrl, PARLEY_REPLICAS: String(knobs.replicas), PARLEY_STREAM: 'PARLEY_BENCH' } });
      servers.push(node);
      clusterUrls.push(node.url);
    }
    progressLine('starting the single node');
    const single = await startParley();
    servers.push(single);
    const contenders = [
      { label: CLUSTER, urls: clusterUrls },
      { label: SINGLE, urls: [single.url] },
    ];
    for (const { label, urls } of contenders) {
      const children = Array.from({ length: knobs.loadProcesses }, () => startLoad('fanout'));
      loads.set(label, children);
      progressLine(`${label}: connecting ${knobs.rooms * knobs.membersPerRoom} clients`);
      await Promise.all(
        children.map((child, c) => {
          const rooms: string[][] = [];
          for (let k = c; k < knobs.rooms; k += children.length) {
            rooms.push(Array.from({ length: knobs.membersPerRoom }, (_, j) => `u${k}-${j}`));
          }
          return child.request({ cmd: 'setup', system: 'parley', deflate: true, urls, rooms, offset: c * 100_000 }, 180_000);
        }),
      );
      const totals = new Map<number, number>();
      children.forEach((ch, i) =>
        ch.onProgress((m) => {
          if (m.deliveries === undefined) return;
          totals.set(i, Number(m.deliveries));
          progressLine(`${label}: ${[...totals.values()].reduce((a, b) => a + b, 0)} deliveries`);
        }),
      );
    }
    const phase = async (label: string, p: Record<string, unknown>) => {
      const children = loads.get(label)!;
      const parts = await Promise.all(
        children.map((ch) =>
          ch.request<{ deliveries: number; seconds: number; sent: number; histogram: number[] }>(
            { cmd: 'run', phase: { ...p, rate: p.rate === undefined ? undefined : Number(p.rate) / children.length } },
            Number(p.warmupMs) + Number(p.durationMs) + 60_000,
          ),
        ),
      );
      const hist = new Histogram();
      for (const part of parts) hist.merge(new Histogram(part.histogram));
      return { deliveriesPerSecond: parts.reduce((a, b) => a + b.deliveries, 0) / parts[0]!.seconds, hist };
    };

    const rows: Row[] = [];
    const saturated = new Map<string, number>();
    for (const { label } of contenders) {
      const r = await phase(label, { mode: 'saturate', window: knobs.window, warmupMs: knobs.warmupMs, durationMs: knobs.durationMs, textBytes: knobs.textBytes });
      saturated.set(label, r.deliveriesPerSecond);
      rows.push({ system: label, figure: 'deliveries/s at saturation', value: r.deliveriesPerSecond, unit: '/s' });
    }
    const rate = Math.max(10, Math.floor((Math.min(...saturated.values()) / knobs.membersPerRoom) * knobs.rateFraction));
    notes.push(`fixed offered rate for latency: ${rate} messages/s (${rate * knobs.membersPerRoom} deliveries/s), ${knobs.rateFraction} × the slower one's saturated rate`);
    for (const { label } of contenders) {
      const r = await phase(label, { mode: 'rate', rate, warmupMs: knobs.warmupMs, durationMs: knobs.durationMs, textBytes: knobs.textBytes });
      const expected = rate * knobs.membersPerRoom;
      if (r.deliveriesPerSecond < expected * 0.9) notes.push(`${label} delivered ${Math.round(r.deliveriesPerSecond)}/s of ${expected}/s offered in the latency phase`);
      for (const [q, f] of [[0.5, 'p50'], [0.99, 'p99'], [0.999, 'p999']] as const) {
        rows.push({ system: label, figure: `${f} latency @ fixed rate`, value: r.hist.quantile(q), unit: 'ms' });
      }
    }
    const order = ['deliveries/s at saturation', 'p50 latency @ fixed rate', 'p99 latency @ fixed rate', 'p999 latency @ fixed rate'];
    for (const f of order) addRatios(rows, f, {}, CLUSTER);
    rows.sort((a, b) => order.indexOf(a.figure) - order.indexOf(b.figure));
    notes.push(
      `ratio = 3 nodes / 1 node; ${knobs.natsServers} nats-server processes (JetStream, full-mesh routes, temp store dirs), stream R${knobs.replicas}; ` +
        'each room\'s members spread over the 3 nodes; all 3 nodes, 3 NATS servers and the load share this machine\'s cores',
    );
    return { scenario: name, knobs: { ...knobs, clients: knobs.rooms * knobs.membersPerRoom, fixedRate: rate }, rows, notes };
  } finally {
    for (const children of loads.values()) {
      await Promise.all(children.map((c) => c.request({ cmd: 'close' }).catch(() => undefined)));
      await Promise.all(children.map((c) => c.stop()));
    }
    // Nodes before NATS: a node records its users going offline on the way out.
    for (const s of servers) await s.stop();
    await nats?.stop();
    if (opts.profileDir && servers.length > 0) {
      try {
        notes.push('Parley cluster nodes CPU profile (the 3 nodes together), top self time:', ...topSelfTime(opts.profileDir));
      } catch (err) {
        notes.push(`no CPU profile: ${String(err)}`);
      }
    }
  }
}
