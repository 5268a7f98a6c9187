/**
 * Catch-up: a client that missed `messages` messages in one conversation reconnects.
 * Parley's way — one WebSocket subscribe from its last seq — against paging the same
 * messages through the HTTP history API (1000 per page, the maximum). Each is timed from
 * the first byte the client sends until it holds every message in order; the median of
 * several alternating rounds is reported as messages/s.
 */
import { startLoad, startParley } from '../procs.js';
import { addRatios, progressLine, type Row, type ScenarioResult } from '../report.js';
import type { RunOptions } from '../main.js';
import { topSelfTime } from '../profile.js';

export const name = 'catchup';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function run(opts: RunOptions): Promise<Omit<ScenarioResult, 'seconds'>> {
  const knobs = { messages: 10_000, textBytes: 100, fillWindow: 200, httpPageSize: 1000, rounds: opts.quick ? 3 : 7 };
  const node = await startParley(opts.profileDir ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`] } : {});
  const child = startLoad('catchup');
  const rows: Row[] = [];
  const notes: string[] = [];
  try {
    child.onProgress((p) => progressLine(`posting: ${String(p.filled)} messages`));
    const { conversationId } = await child.request<{ conversationId: string }>(
      { cmd: 'fill', url: node.url, count: knobs.messages, textBytes: knobs.textBytes, window: knobs.fillWindow },
      300_000,
    );
    const ws: number[] = [];
    const http: number[] = [];
    for (let i = 0; i < knobs.rounds; i++) {
      progressLine(`round ${i + 1}/${knobs.rounds}`);
      ws.push((await child.request<{ seconds: number }>({ cmd: 'ws', url: node.url, conversationId, count: knobs.messages })).seconds);
      http.push((await child.request<{ seconds: number }>({ cmd: 'http', url: node.url, conversationId, count: knobs.messages, pageSize: knobs.httpPageSize })).seconds);
    }
    rows.push({ system: 'parley', figure: 'catch-up messages/s (10k missed)', value: knobs.messages / median(ws), unit: '/s' });
    rows.push({ system: 'http-paging', figure: 'catch-up messages/s (10k missed)', value: knobs.messages / median(http), unit: '/s' });
    addRatios(rows, 'catch-up messages/s (10k missed)', { 'http-paging': '≥ 5' });
    notes.push(`median time to hold all ${knobs.messages}: WebSocket subscribe ${(median(ws) * 1000).toFixed(0)} ms (the client offers permessage-deflate; the node keeps its default, PARLEY_WS_DEFLATE=off), HTTP paging ${(median(http) * 1000).toFixed(0)} ms (rounds: ws ${ws.map((s) => (s * 1000).toFixed(0)).join('/')}, http ${http.map((s) => (s * 1000).toFixed(0)).join('/')})`);
  } finally {
    await child.stop();
    await node.stop();
  }
  // The profile covers the fill (10k posts) too; the catch-up rounds are most of the rest.
  if (opts.profileDir) notes.push('Parley node CPU profile (fill + rounds), top self time:', ...topSelfTime(opts.profileDir));
  return { scenario: name, knobs, rows, notes };
}
