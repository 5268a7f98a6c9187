/**
 * Append: durable-ack events/s into the embedded store from many concurrent writers,
 * three ways — through the node's WebSocket commands (the whole engine), directly through
 * SqliteEventStore.append (the store alone), and raw better-sqlite3 batched transactions
 * of the same rows, WAL + synchronous=FULL (the limit).
 */
import { removeDir, startLoad, startParley, tempDir } from '../procs.js';
import { addRatios, progressLine, type Row, type ScenarioResult } from '../report.js';
import type { RunOptions } from '../main.js';
import { topSelfTime } from '../profile.js';
import { meanGroupCommit } from '../node-metrics.js';

export const name = 'append';

export async function run(opts: RunOptions): Promise<Omit<ScenarioResult, 'seconds'>> {
  const knobs = opts.quick
    ? { writers: 100, textBytes: 100, warmupMs: 1000, durationMs: 3000 }
    : { writers: 200, textBytes: 100, warmupMs: 2000, durationMs: 10_000 };
  const notes: string[] = [];
  const rows: Row[] = [];
  const phase = { warmupMs: knobs.warmupMs, durationMs: knobs.durationMs, textBytes: knobs.textBytes };
  const timeout = knobs.warmupMs + knobs.durationMs + 60_000;

  // 1. Through the node. Clients offer permessage-deflate like browsers; since the node
  // compresses only frames over 1 KiB, commands and acks are never compressed, so a
  // "no deflate offered" run measured the same (dropped after the quick run of 2026-11-28).
  {
    const deflate = true;
    const label = 'parley';
    progressLine(`${label}: connecting writers`);
    const node = await startParley(opts.profileDir ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`] } : {});
    const ws = startLoad('append-ws');
    try {
      ws.onProgress((p) => progressLine(`${label}: ${String(p.acks)} acks`));
      await ws.request({ cmd: 'setup', url: node.url, deflate, writers: Array.from({ length: knobs.writers }, (_, i) => `w${i}`) }, 120_000);
      const r = await ws.request<{ acks: number; errors: number; seconds: number }>({ cmd: 'run', ...phase }, timeout);
      if (r.errors > 0) notes.push(`${label}: ${r.errors} commands answered with an error`);
      const mean = await meanGroupCommit(node.url);
      if (mean !== undefined) notes.push(`${label}: node group commit ${mean.toFixed(1)} appends per transaction on average (incl. setup)`);
      rows.push({ system: label, figure: 'durable events/s via node (WS commands)', value: r.acks / r.seconds, unit: '/s' });
    } finally {
      await ws.request({ cmd: 'close' }).catch(() => undefined);
      await ws.stop();
      await node.stop();
      removeDir(node.dataDir);
    }
    if (opts.profileDir) notes.push('Parley node CPU profile (append via WS), top self time:', ...topSelfTime(opts.profileDir));
  }

  // 2. The store alone, and 3. the raw limit, each in its own process and directory.
  const store = startLoad('append-store');
  try {
    progressLine('SqliteEventStore.append');
    const d1 = tempDir();
    const direct = await store.request<{ events: number; seconds: number; meanBatch: number }>({ cmd: 'direct', dir: d1, writers: knobs.writers, ...phase }, timeout);
    removeDir(d1);
    notes.push(`SqliteEventStore group commit: ${direct.meanBatch.toFixed(1)} appends per transaction on average`);
    rows.push({ system: 'parley', figure: 'durable events/s via SqliteEventStore.append', value: direct.events / direct.seconds, unit: '/s' });
    progressLine('raw better-sqlite3');
    const d2 = tempDir();
    const raw = await store.request<{ events: number; seconds: number }>({ cmd: 'raw', dir: d2, batch: knobs.writers, ...phase }, timeout);
    removeDir(d2);
    const rawRate = raw.events / raw.seconds;
    for (const figure of ['durable events/s via node (WS commands)', 'durable events/s via SqliteEventStore.append']) {
      rows.push({ system: 'raw-sqlite', figure, value: rawRate, unit: '/s' });
      addRatios(rows, figure, { 'raw-sqlite': '≥ 0.8' });
    }
  } finally {
    await store.stop();
  }
  notes.push(`raw-sqlite: ${knobs.writers} rows (event + idempotency key) per transaction, WAL, synchronous=FULL, same schema`);
  return { scenario: name, knobs, rows, notes };
}
