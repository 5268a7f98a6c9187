/**
 * Connections: N idle authenticated WebSocket clients held open, opened in equal steps;
 * the slope of the server's RSS over sockets open (least squares over the readings after
 * each step) is its memory per connection, reported against bare ws and Socket.IO (Parley/peer). RSS
 * from the start divided by N (the figure before) swung 30% run to run with the same code:
 * it counted start-up garbage and fixed growth as per-socket cost, and whether a GC had
 * just run. Clients are spread over two load processes and several 127.0.0.x source
 * addresses so neither file descriptors nor ephemeral ports run out on the client side.
 */
import { execSync } from 'node:child_process';
import type { System } from '../load/clients.js';
import { collectGarbage, inspectorAt } from '../inspector.js';
import { freePort, rssOf, startLoad, startParley, startPeer, type Server } from '../procs.js';
import { addRatios, progressLine, type Row, type ScenarioResult } from '../report.js';
import type { RunOptions } from '../main.js';

export const name = 'connections';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Least-squares slope of y over x. */
function slope(points: Array<[number, number]>): number {
  const n = points.length;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  const sxy = points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
  const sxx = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  return sxx > 0 ? sxy / sxx : NaN;
}

/** A peer server with `nodeArg` (NODE_OPTIONS reaches the peer's fork; the load processes start later without it). */
async function startPeerWith(nodeArg: string, system: System): Promise<Server> {
  const before = process.env.NODE_OPTIONS;
  process.env.NODE_OPTIONS = `${before ?? ''} ${nodeArg}`.trim();
  try {
    return await startPeer(system === 'socketio' ? 'socketio-server' : 'ws-server', system);
  } finally {
    if (before === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = before;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export async function run(opts: RunOptions): Promise<Omit<ScenarioResult, 'seconds'>> {
  const fdLimit = Number(execSync('ulimit -n', { shell: '/bin/sh' }).toString().trim()) || 1024;
  // The server holds one descriptor per connection plus its own (files, listeners, …).
  const wanted = opts.quick ? 2000 : 20_000;
  const connections = Math.min(wanted, fdLimit - 500);
  const knobs = { connections, loadProcesses: 2, localAddresses: ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'], settleMs: 3000, steps: 6, fdLimit };
  const notes: string[] = [];
  if (connections < wanted) notes.push(`${connections} connections instead of ${wanted}: the open-files limit is ${fdLimit} (hard) per process on this machine`);
  notes.push(
    `figure: the least-squares slope of RSS over sockets open, read after each of ${knobs.steps} equal steps of opening, ${knobs.settleMs} ms of settling and a full GC (forced through the inspector every server is started with), the same ruler for every system: what is not per socket (start-up garbage, heap and code growth, caches warming) goes into the intercept, not the slope, and garbage does not count as held. Read without a GC, the same figure went 4.7–8.2 KiB for Parley with the same code (6 steps, 2026-11-30) by where its major GCs fell: "RSS per connect, before a GC" is the median over steps 2–${knobs.steps} of the growth per socket added before that step's GC, the live cost plus the garbage the connects left`,
  );
  notes.push('clients offer permessage-deflate like browsers do; each server keeps its default (none of the three accepts it), and Parley runs once more with PARLEY_WS_DEFLATE=on');
  const rows: Row[] = [];
  const runs: Array<{ system: System; deflate: boolean; label: string; env?: Record<string, string> }> = [
    { system: 'parley', deflate: true, label: 'parley' },
    // What compression costs an idle socket: the negotiated parameters stay with it.
    { system: 'parley', deflate: true, label: 'parley (PARLEY_WS_DEFLATE=on)', env: { PARLEY_WS_DEFLATE: 'on' } },
    { system: 'socketio', deflate: true, label: 'socketio' },
    { system: 'ws', deflate: true, label: 'ws' },
    // No "parley (no deflate offered)" run any more: with no context takeover an idle
    // socket holds no zlib context, and both measured the same (quick run, 2026-11-28).
  ];
  for (const { system, deflate, label, env } of runs) {
    progressLine(`${label}: starting`);
    // Every server alike gets an inspector, so the readings can follow a full GC.
    const inspect = `--inspect=127.0.0.1:${await freePort()}`;
    const server: Server = system === 'parley' ? await startParley({ env, nodeArgs: [inspect] }) : await startPeerWith(inspect, system);
    const cdp = await inspectorAt(Number(inspect.split(':')[1]));
    const children = Array.from({ length: knobs.loadProcesses }, () => startLoad('idle'));
    try {
      await sleep(1000);
      const start = rssOf(server.pid);
      const opened = new Map<number, number>();
      children.forEach((c, i) =>
        c.onProgress((p) => {
          opened.set(i, Number(p.opened));
          progressLine(`${label}: ${[...opened.values()].reduce((a, b) => a + b, 0)} connections`);
        }),
      );
      // Readings after each step: [sockets open, RSS]. What is not per socket (heap and code
      // growth, caches warming, start-up garbage) shifts them all alike: the slope drops it.
      const points: Array<[number, number]> = [];
      // Per step after the first: RSS growth per socket added before that step's GC (the live
      // cost plus the garbage the connects left since the last GC).
      const beforeGc: number[] = [];
      let seconds = 0;
      let total = 0;
      for (let step = 1; step <= knobs.steps; step++) {
        const upTo = Math.round((connections * step) / knobs.steps);
        const per = Math.ceil((upTo - total) / children.length);
        const results = await Promise.all(
          children.map((c, i) => {
            const count = Math.max(0, Math.min(per, upTo - total - i * per));
            return c.request<{ opened: number; failed: number; firstError?: string; seconds: number }>(
              { cmd: 'open', system, url: server.url, count, startIndex: total + i * per, localAddresses: knobs.localAddresses, deflate },
              300_000,
            );
          }),
        );
        const failed = results.reduce((a, r) => a + r.failed, 0);
        if (failed > 0) notes.push(`${label}: ${failed} connections failed at step ${step} (${results.find((r) => r.firstError)?.firstError})`);
        seconds += Math.max(...results.map((r) => r.seconds));
        total = upTo;
        await sleep(knobs.settleMs);
        const open = (await Promise.all(children.map((c) => c.request<{ open: number }>({ cmd: 'count' })))).reduce((a, r) => a + r.open, 0);
        const withGarbage = rssOf(server.pid);
        await collectGarbage(cdp);
        points.push([open, rssOf(server.pid)]);
        if (step > 1) beforeGc.push((withGarbage - points.at(-2)![1]) / 1024 / Math.max(1, open - points.at(-2)![0]));
      }
      const slopes = points.slice(1).map(([n, rss], i) => (rss - points[i]![1]) / 1024 / Math.max(1, n - points[i]![0]));
      const [still, after] = points.at(-1)!;
      const kib = (v: number) => v.toFixed(2);
      notes.push(
        `${label}: ${still} open after ${seconds.toFixed(1)} s of connecting; RSS ${(start / 2 ** 20).toFixed(0)} → ${(after / 2 ** 20).toFixed(0)} MiB ` +
          `(${kib((after - start) / 1024 / Math.max(1, still))} KiB per socket from 1 s after start, the old ruler but after GCs); ` +
          `after a GC step by step ${slopes.map(kib).join(', ')} KiB (median ${kib(median(slopes))}); ` +
          `before it, with the connects' garbage, ${beforeGc.map(kib).join(', ')} KiB (median ${kib(median(beforeGc))})`,
      );
      rows.push({ system: label, figure: 'RSS per idle connection', value: slope(points) / 1024, unit: 'KiB' });
      rows.push({ system: label, figure: 'RSS per connect, before a GC', value: median(beforeGc), unit: 'KiB' });
    } finally {
      cdp.close();
      await Promise.all(children.map((c) => c.request({ cmd: 'close' }).catch(() => undefined)));
      await Promise.all(children.map((c) => c.stop()));
      await server.stop();
    }
  }
  addRatios(rows, 'RSS per idle connection');
  addRatios(rows, 'RSS per connect, before a GC');
  for (const r of rows) if (r.system.startsWith('parley')) delete r.ratio;
  // Issue 11: ≤ 5 KiB per idle authenticated socket, about what bare ws costs here.
  rows.push({ system: 'goal', figure: 'RSS per idle connection', value: 5, unit: 'KiB' });
  const parley = rows.find((r) => r.system === 'parley' && r.figure === 'RSS per idle connection');
  if (parley) parley.goal = '≤ 5 KiB';
  return { scenario: name, knobs, rows, notes };
}
