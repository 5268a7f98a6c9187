/**
 * Fan-out: many clients in many rooms, one sender per room, against Parley, Socket.IO 4
 * rooms and a bare ws server in one run.
 *
 * 1. Latency at fixed offered rates (20, 500 and 2,000 posts/s by default, `--rates` to
 *    change), chosen independently of any system's saturation and the same for every
 *    system: send→deliver p50/p99/p999 over every delivery of the posts sent in the
 *    measured window, and the server's CPU per post (its process's CPU time over the
 *    window, all threads, from /proc, divided by the posts it took all the way back to
 *    their sender in the window). A rate a system cannot sustain is reported with its
 *    achieved rate and backlog; the run then waits (bounded) for the window's posts to
 *    arrive so their latency counts, and skips that system's higher rates.
 * 2. Saturation, last and separately: each sender keeps `window` posts in flight, the
 *    window growing (16, 64, 256, 1024) until it adds less than 10%; the highest figure is
 *    reported, and a system still growing at the largest window is said to be so.
 * 3. Each server's CPU while idle (clients connected, nothing posted), so CPU per post at
 *    a low rate can be read net of timers and heartbeats.
 *
 * Rates run before saturation so a saturated Parley's backlog (read models catching up)
 * cannot cost it at the fixed rates. Parley persists (fsync) every message before fanning
 * it out; Socket.IO and ws persist nothing. "ws+fsync" is the ws server appending each
 * post to a file and fdatasync'ing it (group commit) before the broadcast: what the disk
 * alone costs that promise, so Parley's distance from it is what Parley itself adds.
 */
import { Histogram } from '../load/histogram.js';
import type { System } from '../load/clients.js';
import type { PhaseResult } from '../load/fanout.js';
import { cpuSecondsOf, removeDir, startLoad, startParley, startPeer, tempDir, type LoadChild, type Server } from '../procs.js';
import { addRatios, progressLine, type Row, type ScenarioResult } from '../report.js';
import type { RunOptions } from '../main.js';
import { topSelfTime } from '../profile.js';
import { meanGroupCommit } from '../node-metrics.js';

export const name = 'fanout';

const DEFAULT_RATES = [20, 500, 2000];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A phase's figures, merged over the load processes. */
interface Measured {
  hist: Histogram;
  deliveriesPerSecond: number;
  sentPerSecond: number;
  achievedPostsPerSecond: number;
  backlogAtEnd: number;
  undelivered: number;
  expectedDeliveries: number;
  drainedAfterMs: number;
  closed: number;
  errors: number;
  firstError?: string;
  loopDelayP99Ms: number;
  cpuMsPerPost: number;
}

export async function run(opts: RunOptions): Promise<Omit<ScenarioResult, 'seconds'>> {
  const rates = opts.rates ?? DEFAULT_RATES;
  const knobs = opts.quick
    ? { rooms: 20, membersPerRoom: 10, textBytes: 100, rates, saturationWindows: [16, 64, 256, 1024], warmupMs: 1000, durationMs: 3000, drainMs: 5000, loadProcesses: 2 }
    : { rooms: 50, membersPerRoom: 10, textBytes: 100, rates, saturationWindows: [16, 64, 256, 1024], warmupMs: 2000, durationMs: 10_000, drainMs: 20_000, loadProcesses: 2 };
  const notes: string[] = [];
  // Clients offer permessage-deflate, like browsers (Parley compresses only frames over 1 KiB).
  const journalDir = tempDir('parley-bench-journal-');
  const contenders: Array<{ label: string; system: System; env?: Record<string, string> }> = [
    { label: 'parley', system: 'parley' },
    { label: 'socketio', system: 'socketio' },
    { label: 'ws', system: 'ws' },
    { label: 'ws+fsync', system: 'ws', env: { JOURNAL_DIR: journalDir } },
  ];
  const servers = new Map<string, Server>();
  const loads = new Map<string, LoadChild[]>();
  const profileDir = opts.profileDir;
  const rows: Row[] = [];
  try {
    for (const { label, system, env } of contenders) {
      progressLine(`starting ${label}`);
      const server =
        system === 'parley'
          ? await startParley(profileDir ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] } : {})
          : await startPeer(system === 'socketio' ? 'socketio-server' : 'ws-server', system, env);
      servers.set(label, server);
      const children = Array.from({ length: knobs.loadProcesses }, () => startLoad('fanout'));
      loads.set(label, children);
      progressLine(`${label}: connecting ${knobs.rooms * knobs.membersPerRoom} clients`);
      await Promise.all(
        children.map((child, c) => {
          const rooms: string[][] = [];
          for (let k = c; k < knobs.rooms; k += children.length) {
            rooms.push(Array.from({ length: knobs.membersPerRoom }, (_, j) => `u${k}-${j}`));
          }
          return child.request({ cmd: 'setup', system, deflate: true, url: server.url, rooms, offset: c * 100_000 }, 180_000);
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

    const phase = async (label: string, p: { mode: 'rate' | 'saturate'; rate?: number; window?: number }): Promise<Measured> => {
      const children = loads.get(label)!;
      const pid = servers.get(label)!.pid;
      phaseOf.set(label, p.mode === 'rate' ? `@ ${p.rate}/s` : `saturating (window ${p.window})`);
      const request = { ...p, warmupMs: knobs.warmupMs, durationMs: knobs.durationMs, textBytes: knobs.textBytes, drainMs: knobs.drainMs };
      const answers = Promise.all(
        children.map((ch) =>
          ch.request<PhaseResult>(
            { cmd: 'run', phase: { ...request, rate: p.rate === undefined ? undefined : p.rate / children.length } },
            knobs.warmupMs + knobs.durationMs + knobs.drainMs + 60_000,
          ),
        ),
      );
      // The server's CPU over the measured window; the load processes start their clocks
      // when they get the request, within a millisecond or two of now.
      await sleep(knobs.warmupMs);
      const cpu0 = cpuSecondsOf(pid);
      await sleep(knobs.durationMs);
      const cpu1 = cpuSecondsOf(pid);
      const parts = await answers;
      const hist = new Histogram();
      for (const part of parts) hist.merge(new Histogram(part.histogram));
      const sum = (f: (r: PhaseResult) => number) => parts.reduce((a, r) => a + f(r), 0);
      const seconds = knobs.durationMs / 1000;
      const completed = sum((r) => r.completedInWindow);
      return {
        hist,
        deliveriesPerSecond: sum((r) => r.deliveries) / seconds,
        sentPerSecond: sum((r) => r.sentInWindow) / seconds,
        achievedPostsPerSecond: completed / seconds,
        backlogAtEnd: sum((r) => r.backlogAtEnd),
        undelivered: sum((r) => r.expectedDeliveries - r.deliveries),
        expectedDeliveries: sum((r) => r.expectedDeliveries),
        drainedAfterMs: Math.max(...parts.map((r) => r.drainedAfterMs)),
        closed: sum((r) => r.closed),
        errors: sum((r) => r.errors),
        firstError: parts.find((r) => r.firstError)?.firstError,
        loopDelayP99Ms: Math.max(...parts.map((r) => r.loopDelayP99Ms)),
        cpuMsPerPost: completed > 0 ? ((cpu1 - cpu0) * 1000) / completed : NaN,
      };
    };

    // 0. CPU while idle, every server at once (all clients connected, nobody posting).
    {
      progressLine('idle CPU');
      const idleMs = knobs.warmupMs * 2;
      const before = new Map([...servers].map(([label, s]) => [label, cpuSecondsOf(s.pid)]));
      await sleep(idleMs);
      for (const [label, s] of servers) {
        rows.push({ system: label, figure: 'server CPU while idle', value: ((cpuSecondsOf(s.pid) - before.get(label)!) * 1000) / (idleMs / 1000), unit: 'ms/s' });
      }
    }

    // 1. Fixed rates, ascending, every system at each rate before the next rate.
    const gaveUp = new Map<string, number>();
    for (const rate of rates) {
      const loopDelays: string[] = [];
      for (const { label } of contenders) {
        if (gaveUp.has(label)) {
          notes.push(`${label} @ ${rate}/s: not run, it could not sustain ${gaveUp.get(label)}/s`);
          continue;
        }
        const r = await phase(label, { mode: 'rate', rate });
        const at = `@ ${rate}/s`;
        loopDelays.push(`${label} ${r.loopDelayP99Ms.toFixed(1)} ms`);
        rows.push({ system: label, figure: `p50 latency ${at}`, value: r.hist.quantile(0.5), unit: 'ms' });
        rows.push({ system: label, figure: `p99 latency ${at}`, value: r.hist.quantile(0.99), unit: 'ms' });
        rows.push({ system: label, figure: `p999 latency ${at}`, value: r.hist.quantile(0.999), unit: 'ms' });
        rows.push({ system: label, figure: `server CPU per post ${at}`, value: r.cpuMsPerPost, unit: 'ms' });
        rows.push({ system: label, figure: `achieved posts/s ${at}`, value: r.achievedPostsPerSecond, unit: '/s' });
        rows.push({ system: label, figure: `backlog at window end ${at}`, value: r.backlogAtEnd, unit: 'posts' });
        // The generator itself may fall behind on a loaded machine: say so, it is not the server's fault.
        if (r.sentPerSecond < rate * 0.95) notes.push(`${label} ${at}: the load generators offered only ${Math.round(r.sentPerSecond)} posts/s`);
        // Keeping up means: taking posts as fast as they come, holding no more than a
        // second's worth in flight, and delivering every one of them in the end.
        const sustained = r.achievedPostsPerSecond >= r.sentPerSecond * 0.95 && r.backlogAtEnd <= rate && r.undelivered === 0;
        if (!sustained) {
          notes.push(
            `${label} did NOT sustain ${rate}/s: achieved ${Math.round(r.achievedPostsPerSecond)} posts/s of ${Math.round(r.sentPerSecond)} offered, ` +
              `backlog ${r.backlogAtEnd} posts at the window's end, ${r.undelivered} of ${r.expectedDeliveries} deliveries still missing ${(r.drainedAfterMs / 1000).toFixed(1)} s after posting stopped` +
              (r.undelivered > 0 ? ' (its percentiles count only what arrived: they are lower bounds)' : ''),
          );
          if (r.undelivered > 0) gaveUp.set(label, rate);
        }
        if (r.closed > 0) notes.push(`${label} ${at}: ${r.closed} client sockets were closed by the end of the phase`);
        if (r.errors > 0) notes.push(`${label} ${at}: ${r.errors} posts answered with an error, first: ${r.firstError}`);
      }
      if (loopDelays.length > 0) notes.push(`@ ${rate}/s, p99 event-loop delay of the load generators (client side; latencies near it are bounded by the clients): ${loopDelays.join(', ')}`);
    }

    // 2. Saturation, after the fixed rates: the window grows ×4 until it adds less than
    // 10% (saturated), up to the last window listed (then the note says it may not be).
    for (const { label } of contenders) {
      let best = 0;
      const perWindow: string[] = [];
      let cpu = NaN;
      let saturated = false;
      for (const window of knobs.saturationWindows) {
        const r = await phase(label, { mode: 'saturate', window });
        perWindow.push(`${Math.round(r.deliveriesPerSecond)}/s at window ${window}`);
        if (r.closed > 0) notes.push(`${label} saturating at window ${window}: ${r.closed} client sockets were closed`);
        // A refused post never comes back, so its sender's window shrinks for the rest of the phase.
        if (r.errors > 0) notes.push(`${label} saturating at window ${window}: ${r.errors} posts answered with an error, first: ${r.firstError}`);
        const gain = best > 0 ? r.deliveriesPerSecond / best : Infinity;
        if (r.deliveriesPerSecond > best) ((best = r.deliveriesPerSecond), (cpu = r.cpuMsPerPost));
        if (gain < 1.1) {
          saturated = true;
          break;
        }
      }
      rows.push({ system: label, figure: 'deliveries/s at saturation', value: best, unit: '/s' });
      rows.push({ system: label, figure: 'server CPU per post at saturation', value: cpu, unit: 'ms' });
      notes.push(
        `${label} saturation: ${perWindow.join(', ')} (posts in flight per sender; ${knobs.rooms} senders)` +
          (saturated ? '' : ' — still growing at the largest window: NOT known to be saturated'),
      );
    }

    const mean = await meanGroupCommit(servers.get('parley')!.url);
    if (mean !== undefined) notes.push(`Parley group commit: ${mean.toFixed(1)} appends per transaction on average`);

    const order: string[] = ['server CPU while idle'];
    for (const rate of rates) {
      const at = `@ ${rate}/s`;
      const goals = (g: string): Record<string, string> => ({ socketio: g });
      addRatios(rows, `p50 latency ${at}`);
      addRatios(rows, `p99 latency ${at}`, rate === 20 ? goals('≤ 2') : rate === 500 ? goals('≤ 3') : {});
      addRatios(rows, `p999 latency ${at}`);
      addRatios(rows, `server CPU per post ${at}`, rate === 500 ? goals('≤ 2') : {});
      order.push(`p50 latency ${at}`, `p99 latency ${at}`, `p999 latency ${at}`, `server CPU per post ${at}`, `achieved posts/s ${at}`, `backlog at window end ${at}`);
    }
    addRatios(rows, 'deliveries/s at saturation', { ws: '≥ 0.7' });
    addRatios(rows, 'server CPU per post at saturation');
    order.push('deliveries/s at saturation', 'server CPU per post at saturation');
    rows.sort((a, b) => order.indexOf(a.figure) - order.indexOf(b.figure));
    notes.push(
      'latency = receiver wall clock − send time written in the post, over every member (sender included) of every post sent in the measured window; ' +
        'CPU = the server process\'s user+system time (all threads, /proc/<pid>/stat) over the window ÷ posts back at their sender in the window',
    );
    return { scenario: name, knobs: { ...knobs, clients: knobs.rooms * knobs.membersPerRoom }, rows, notes };
  } finally {
    for (const children of loads.values()) {
      await Promise.all(children.map((c) => c.request({ cmd: 'close' }).catch(() => undefined)));
      await Promise.all(children.map((c) => c.stop()));
    }
    for (const s of servers.values()) await s.stop();
    removeDir(journalDir);
    if (profileDir && servers.has('parley')) {
      try {
        notes.push('Parley node CPU profile, top self time:', ...topSelfTime(profileDir));
      } catch (err) {
        notes.push(`no CPU profile: ${String(err)}`);
      }
    }
  }
}
