/**
 * Replay: rebuild the history read model from N events (events/s) against a raw SQLite
 * scan of the same table. The log is generated as a fixture of conversation streams
 * (ConversationCreated, then MessagePosted), shaped as the node writes them.
 */
import { startLoad, tempDir } from '../procs.js';
import { addRatios, progressLine, type Row, type ScenarioResult } from '../report.js';
import type { RunOptions } from '../main.js';
import { topSelfTime } from '../profile.js';

export const name = 'replay';

export async function run(opts: RunOptions): Promise<Omit<ScenarioResult, 'seconds'>> {
  const knobs = opts.quick
    ? { events: 100_000, conversations: 200, textBytes: 100, rebuildBatchSize: 5000 }
    : { events: 1_000_000, conversations: 1000, textBytes: 100, rebuildBatchSize: 5000 };
  const dir = tempDir();
  const rows: Row[] = [];
  const notes: string[] = [];
  const child = startLoad('replay');
  // Profiling, when asked, covers only the rebuild, in a process of its own.
  const profiled = opts.profileDir ? startLoad('replay', { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`] }) : undefined;
  try {
    child.onProgress((p) => progressLine(p.generated !== undefined ? `generating: ${String(p.generated)} events` : `rebuilding: ${String(p.rebuilt)} events`));
    await child.request({ cmd: 'generate', dir, ...knobs }, 600_000);
    progressLine('raw scan');
    // A first scan warms the page cache for both contenders alike.
    await child.request({ cmd: 'scan', dir }, 600_000);
    const scan = await child.request<{ events: number; seconds: number }>({ cmd: 'scan', dir }, 600_000);
    const parsed = await child.request<{ events: number; seconds: number }>({ cmd: 'scan', dir, parse: true }, 600_000);
    progressLine('raw copy into the history schema');
    const copy = await child.request<{ events: number; seconds: number }>({ cmd: 'copy', dir, batchSize: knobs.rebuildBatchSize }, 900_000);
    progressLine('rebuild');
    const rebuild = await (profiled ?? child).request<{ events: number; seconds: number; messages: number }>({ cmd: 'rebuild', dir }, 900_000);
    if (rebuild.messages !== knobs.events - knobs.conversations) notes.push(`history holds ${rebuild.messages} messages, expected ${knobs.events - knobs.conversations}`);
    rows.push({ system: 'parley', figure: 'replay events/s (rebuild history)', value: rebuild.events / rebuild.seconds, unit: '/s' });
    rows.push({ system: 'raw-sqlite', figure: 'replay events/s (rebuild history)', value: scan.events / scan.seconds, unit: '/s' });
    rows.push({ system: 'raw-sqlite copy', figure: 'replay events/s (rebuild history)', value: copy.events / copy.seconds, unit: '/s' });
    addRatios(rows, 'replay events/s (rebuild history)', { 'raw-sqlite': '≥ 0.5' });
    notes.push('raw-sqlite is the scan the issue names as the limit; raw-sqlite copy also parses each MessagePosted and inserts it into the history schema (the least a rebuild must do)');
    notes.push(
      `rebuild of ${rebuild.events} events took ${rebuild.seconds.toFixed(2)} s; raw scan ${scan.seconds.toFixed(2)} s; raw scan + JSON.parse of data and metadata ${parsed.seconds.toFixed(2)} s (${Math.round(parsed.events / parsed.seconds)} events/s)`,
    );
  } finally {
    await child.stop();
    if (profiled) {
      await profiled.stop();
      notes.push('rebuild CPU profile, top self time:', ...topSelfTime(opts.profileDir!));
    }
  }
  return { scenario: name, knobs, rows, notes };
}
