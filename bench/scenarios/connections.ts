/**
 * Connections: N idle authenticated WebSocket clients held open; the server's RSS growth
 * divided by N is its memory per connection, reported against bare ws and Socket.IO
 * (Parley/peer). Clients are spread over two load processes and several 127.0.0.x source
 * addresses so neither file descriptors nor ephemeral ports run out on the client side.
 */
import { execSync } from 'node:child_process';
import type { System } from '../load/clients.js';
import { rssOf, startLoad, startParley, startPeer, type Server } from '../procs.js';
import { addRatios, progressLine, type Row, type ScenarioResult } from '../report.js';
import type { RunOptions } from '../main.js';

export const name = 'connections';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function run(opts: RunOptions): Promise<Omit<ScenarioResult, 'seconds'>> {
  const fdLimit = Number(execSync('ulimit -n', { shell: '/bin/sh' }).toString().trim()) || 1024;
  // The server holds one descriptor per connection plus its own (files, listeners, …).
  const wanted = opts.quick ? 2000 : 20_000;
  const connections = Math.min(wanted, fdLimit - 500);
  const knobs = { connections, loadProcesses: 2, localAddresses: ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'], settleMs: 3000, fdLimit };
  const notes: string[] = [];
  if (connections < wanted) notes.push(`${connections} connections instead of ${wanted}: the open-files limit is ${fdLimit} (hard) per process on this machine`);
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
    const server: Server =
      system === 'parley' ? await startParley({ env }) : await startPeer(system === 'socketio' ? 'socketio-server' : 'ws-server', system);
    const children = Array.from({ length: knobs.loadProcesses }, () => startLoad('idle'));
    try {
      await sleep(1000);
      const before = rssOf(server.pid);
      const opened = new Map<number, number>();
      children.forEach((c, i) =>
        c.onProgress((p) => {
          opened.set(i, Number(p.opened));
          progressLine(`${label}: ${[...opened.values()].reduce((a, b) => a + b, 0)} connections`);
        }),
      );
      const per = Math.ceil(connections / children.length);
      const results = await Promise.all(
        children.map((c, i) =>
          c.request<{ opened: number; failed: number; firstError?: string; seconds: number }>(
            { cmd: 'open', system, url: server.url, count: Math.min(per, connections - i * per), startIndex: i * per, localAddresses: knobs.localAddresses, deflate },
            300_000,
          ),
        ),
      );
      const total = results.reduce((a, r) => a + r.opened, 0);
      const failed = results.reduce((a, r) => a + r.failed, 0);
      if (failed > 0) notes.push(`${label}: ${failed} connections failed (${results.find((r) => r.firstError)?.firstError})`);
      await sleep(knobs.settleMs);
      const still = (await Promise.all(children.map((c) => c.request<{ open: number }>({ cmd: 'count' })))).reduce((a, r) => a + r.open, 0);
      const after = rssOf(server.pid);
      const seconds = Math.max(...results.map((r) => r.seconds));
      notes.push(`${label}: ${total} connected in ${seconds.toFixed(1)} s, ${still} still open after ${knobs.settleMs} ms; RSS ${(before / 2 ** 20).toFixed(0)} → ${(after / 2 ** 20).toFixed(0)} MiB`);
      rows.push({ system: label, figure: 'RSS per idle connection', value: (after - before) / 1024 / Math.max(1, total), unit: 'KiB' });
    } finally {
      await Promise.all(children.map((c) => c.request({ cmd: 'close' }).catch(() => undefined)));
      await Promise.all(children.map((c) => c.stop()));
      await server.stop();
    }
  }
  addRatios(rows, 'RSS per idle connection');
  for (const r of rows) if (r.system.startsWith('parley')) delete r.ratio;
  // Issue 11: ≤ 5 KiB per idle authenticated socket, about what bare ws costs here.
  rows.push({ system: 'goal', figure: 'RSS per idle connection', value: 5, unit: 'KiB' });
  const parley = rows.find((r) => r.system === 'parley');
  if (parley) parley.goal = '≤ 5 KiB';
  return { scenario: name, knobs, rows, notes };
}
