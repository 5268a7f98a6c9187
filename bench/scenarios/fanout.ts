/**
 * Fan-out: many clients in many rooms, one sender per room. First each system is
 * saturated (deliveries/s); then every system gets the same fixed offered rate — half the
 * slowest system's saturated message rate — and send→deliver latency is measured.
 * Parley persists (fsync) every message before fanning it out; the peers persist nothing.
 */
import { Histogram } from '../load/histogram.js';
import type { System } from '../load/clients.js';
import { startLoad, startParley, startPeer, type LoadChild, type Server } from '../procs.js';
import { addRatios, progressLine, type Row, type ScenarioResult } from '../report.js';
import type { RunOptions } from '../main.js';
import { topSelfTime } from '../profile.js';
import { meanGroupCommit } from '../node-metrics.js';

export const name = 'fanout';

export async function run(opts: RunOptions): Promise<Omit<ScenarioResult, 'seconds'>> {
  const knobs = opts.quick
    ? { rooms: 40, membersPerRoom: 10, textBytes: 100, window: 32, warmupMs: 1000, durationMs: 3000, loadProcesses: 2, rateFraction: 0.5 }
    : { rooms: 200, membersPerRoom: 10, textBytes: 100, window: 16, warmupMs: 2000, durationMs: 10_000, loadProcesses: 2, rateFraction: 0.5 };
  const notes: string[] = [];
  // Clients offer permessage-deflate, like browsers. A "parley (no deflate offered)" row
  // used to show the cost of compressing every frame; since the node compresses only
  // frames over 1 KiB it measured the same within run-to-run noise, so it was dropped.
  const contenders: Array<{ label: string; system: System; deflate: boolean }> = [
    { label: 'parley', system: 'parley', deflate: true },
    { label: 'socketio', system: 'socketio', deflate: true },
    { label: 'ws', system: 'ws', deflate: true },
  ];
  const servers = new Map<System, Server>();
  const loads = new Map<string, LoadChild[]>();
  const profileDir = opts.profileDir;
  try {
    for (const { label, system, deflate } of contenders) {
      progressLine(`starting ${label}`);
      const server =
        servers.get(system) ??
        (system === 'parley'
          ? await startParley(profileDir ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] } : {})
          : await startPeer(system === 'socketio' ? 'socketio-server' : 'ws-server', system));
      servers.set(system, server);
      const children = Array.from({ length: knobs.loadProcesses }, () => startLoad('fanout'));
      loads.set(label, children);
      progressLine(`${label}: connecting ${knobs.rooms * knobs.membersPerRoom} clients`);
      await Promise.all(
        children.map((child, c) => {
          const rooms: string[][] = [];
          for (let k = c; k < knobs.rooms; k += children.length) {
            rooms.push(Array.from({ length: knobs.membersPerRoom }, (_, j) => `u${k}-${j}${deflate ? '' : '-plain'}`));
          }
          return child.request({ cmd: 'setup', system, deflate, url: server.url, rooms, offset: c * 100_000 }, 180_000);
        }),
      );
    }

    const phaseOf = new Map<string, string>();
    for (const [label, children] of loads) {
      const totals = new Map<number, number>();
      children.forEach((ch, i) =>
        ch.onProgress((m) => {
          if (m.deliveries === undefined) return;
          totals.set(i, Number(m.deliveries));
          progressLine(`${label} ${phaseOf.get(label) ?? ''}: ${[...totals.values()].reduce((a, b) => a + b, 0)} deliveries`);
        }),
      );
    }
    const phase = async (label: string, p: Record<string, unknown>) => {
      const children = loads.get(label)!;
      phaseOf.set(label, String(p.mode));
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
      const deliveries = parts.reduce((a, b) => a + b.deliveries, 0);
      return { deliveriesPerSecond: deliveries / parts[0]!.seconds, hist, sent: parts.reduce((a, b) => a + b.sent, 0) };
    };

    const rows: Row[] = [];
    const saturated = new Map<string, number>();
    for (const { label } of contenders) {
      const r = await phase(label, { mode: 'saturate', window: knobs.window, warmupMs: knobs.warmupMs, durationMs: knobs.durationMs, textBytes: knobs.textBytes });
      saturated.set(label, r.deliveriesPerSecond);
      rows.push({ system: label, figure: 'deliveries/s at saturation', value: r.deliveriesPerSecond, unit: '/s' });
    }
    const rate = Math.max(10, Math.floor((Math.min(...contenders.map((c) => saturated.get(c.label)!)) / knobs.membersPerRoom) * knobs.rateFraction));
    notes.push(`fixed offered rate for latency: ${rate} messages/s (${rate * knobs.membersPerRoom} deliveries/s), ${knobs.rateFraction} × the slowest system's saturated rate`);
    for (const { label } of contenders) {
      const r = await phase(label, { mode: 'rate', rate, warmupMs: knobs.warmupMs, durationMs: knobs.durationMs, textBytes: knobs.textBytes });
      const expected = rate * knobs.membersPerRoom;
      if (r.deliveriesPerSecond < expected * 0.9) notes.push(`${label} delivered ${Math.round(r.deliveriesPerSecond)}/s of ${expected}/s offered in the latency phase`);
      rows.push({ system: label, figure: 'p50 latency @ fixed rate', value: r.hist.quantile(0.5), unit: 'ms' });
      rows.push({ system: label, figure: 'p99 latency @ fixed rate', value: r.hist.quantile(0.99), unit: 'ms' });
      rows.push({ system: label, figure: 'p999 latency @ fixed rate', value: r.hist.quantile(0.999), unit: 'ms' });
    }
    const mean = await meanGroupCommit(servers.get('parley')!.url);
    if (mean !== undefined) notes.push(`Parley group commit: ${mean.toFixed(1)} appends per transaction on average`);
    addRatios(rows, 'deliveries/s at saturation', { socketio: '≥ 1.5', ws: '≥ 0.7' });
    addRatios(rows, 'p50 latency @ fixed rate');
    addRatios(rows, 'p99 latency @ fixed rate', { socketio: '≤ 1' });
    addRatios(rows, 'p999 latency @ fixed rate');
    const order = ['deliveries/s at saturation', 'p50 latency @ fixed rate', 'p99 latency @ fixed rate', 'p999 latency @ fixed rate'];
    rows.sort((a, b) => order.indexOf(a.figure) - order.indexOf(b.figure));
    return { scenario: name, knobs: { ...knobs, clients: knobs.rooms * knobs.membersPerRoom, fixedRate: rate }, rows, notes };
  } finally {
    for (const children of loads.values()) {
      await Promise.all(children.map((c) => c.request({ cmd: 'close' }).catch(() => undefined)));
      await Promise.all(children.map((c) => c.stop()));
    }
    for (const s of servers.values()) await s.stop();
    if (profileDir && servers.has('parley')) {
      try {
        notes.push('Parley node CPU profile, top self time:', ...topSelfTime(profileDir));
      } catch (err) {
        notes.push(`no CPU profile: ${String(err)}`);
      }
    }
  }
}
