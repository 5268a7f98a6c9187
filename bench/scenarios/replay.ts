/**
 * Replay: `parley rebuild` run as users run it (the CLI, its own process, on a stopped
 * node's data dir) over a log of N conversation events of which a fraction are deletes —
 * once for all read models, once for history alone — against a raw SQLite scan of the
 * same log with JSON.parse of every event's data and metadata (the floor any rebuild
 * pays). Rates are events ÷ (CLI wall time − the same CLI's wall time on an empty log),
 * so process start-up and module loading are not charged to the rebuild, but never more
 * than the CLI's own count of its rebuild allows; both times are in the notes. Works with any CLI that takes `parley rebuild [projection…] --data-dir`.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { runParleyCli, startLoad, tempDir, type CliRun } from '../procs.js';
import { addRatios, progressLine, type Row, type ScenarioResult } from '../report.js';
import type { RunOptions } from '../main.js';
import { topSelfTime } from '../profile.js';

export const name = 'replay';

const ALL = 'rebuild events/s, all read models (log with deletes)';
const HISTORY = 'rebuild events/s, history only (log with deletes)';

function removeReadModels(dir: string): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(join(dir, `readmodels.sqlite${suffix}`), { force: true });
}

/** The seconds the CLI's own summary line gives ("… in 12.34 s"), if it printed one. */
function ownSeconds(run: CliRun): number | undefined {
  const s = /in ([\d.]+) ?s\b/.exec(run.stdout)?.[1];
  return s === undefined ? undefined : Number(s);
}

export async function run(opts: RunOptions): Promise<Omit<ScenarioResult, 'seconds'>> {
  const knobs = opts.quick
    ? { events: 30_000, conversations: 100, deleteFraction: 0.02, textBytes: 100, copyBatchSize: 5000 }
    : { events: 300_000, conversations: 300, deleteFraction: 0.02, textBytes: 100, copyBatchSize: 5000 };
  const dir = tempDir();
  const empty = tempDir();
  const rows: Row[] = [];
  const notes: string[] = [];
  const child = startLoad('replay');
  const timeoutMs = opts.quick ? 300_000 : 1_800_000;
  try {
    child.onProgress((p) => progressLine(`generating: ${String(p.generated)} events`));
    const log = await child.request<{ events: number; posted: number; deleted: number }>({ cmd: 'generate', dir, ...knobs }, 600_000);
    await child.request({ cmd: 'generate', dir: empty, events: 0, conversations: 1, textBytes: 0 });
    notes.push(`log: ${log.events} events — ${knobs.conversations} ConversationCreated, ${log.posted} MessagePosted, ${log.deleted} MessageDeleted (${((log.deleted / log.events) * 100).toFixed(1)}%)`);

    const help = await runParleyCli(['rebuild', '--help'], { timeoutMs: 60_000 });
    const namesProjections = /\[projection/.test(help.stdout + help.stderr);

    // Start-up cost: the same command on an empty log, the fastest of three.
    progressLine('CLI start-up on an empty log');
    let startup = Infinity;
    for (let i = 0; i < 3; i++) {
      removeReadModels(empty);
      const r = await runParleyCli(['rebuild', '--data-dir', empty], { timeoutMs: 120_000 });
      if (r.code !== 0) throw new Error(`parley rebuild on an empty log exited ${r.code}: ${r.stderr.slice(-1000)}`);
      startup = Math.min(startup, r.seconds);
    }

    progressLine('raw scan');
    // A first scan warms the page cache for every contender alike.
    await child.request({ cmd: 'scan', dir }, 600_000);
    const scan = await child.request<{ events: number; seconds: number }>({ cmd: 'scan', dir }, 600_000);
    // The floor is the median of three scans with JSON.parse: a shared machine is noisy.
    const parses: Array<{ events: number; seconds: number }> = [];
    for (let i = 0; i < 3; i++) parses.push(await child.request<{ events: number; seconds: number }>({ cmd: 'scan', dir, parse: true }, 600_000));
    const parsed = parses.sort((a, b) => a.seconds - b.seconds)[1]!;
    progressLine('raw copy into the history schema');
    const copy = await child.request<{ events: number; seconds: number }>({ cmd: 'copy', dir, batchSize: knobs.copyBatchSize }, 900_000);

    const rebuild = async (label: string, names: string[]) => {
      removeReadModels(dir);
      progressLine(`parley rebuild ${label}`);
      const r = await runParleyCli(['rebuild', ...names, '--data-dir', dir], { timeoutMs });
      if (r.code !== 0) throw new Error(`parley rebuild ${names.join(' ')} exited ${r.code}: ${r.stderr.slice(-1000)}`);
      const counts = await child.request<{ messages: number; deletedMessages: number; searchRows: number }>({ cmd: 'count', dir });
      // Start-up varies run to run on a busy machine: the rebuild is never charged less
      // than the time the CLI itself reports for it.
      const own = ownSeconds(r);
      const net = Math.max(r.seconds - startup, own ?? 0.001);
      if (net < r.seconds / 2) notes.push(`parley rebuild ${label}: start-up is most of its wall time; a larger log gives a steadier figure`);
      notes.push(
        `parley rebuild ${label}: ${r.seconds.toFixed(2)} s wall (${own === undefined ? 'no own timing printed' : `${own} s by its own count`}), ${net.toFixed(2)} s counted; ` +
          `history ${counts.messages} messages (${counts.deletedMessages} deleted), search ${counts.searchRows} rows`,
      );
      // History keeps tombstones; search drops deleted messages.
      const wrong: string[] = [];
      if (counts.messages !== log.posted) wrong.push(`history holds ${counts.messages} messages, expected ${log.posted}`);
      if (counts.deletedMessages >= 0 && counts.deletedMessages !== log.deleted) wrong.push(`history marks ${counts.deletedMessages} deleted, expected ${log.deleted}`);
      if (names.length === 0 && counts.searchRows >= 0 && counts.searchRows !== log.posted - log.deleted) wrong.push(`search holds ${counts.searchRows} rows, expected ${log.posted - log.deleted}`);
      for (const w of wrong) notes.push(`parley rebuild ${label}: WRONG RESULT: ${w}`);
      return log.events / net;
    };
    const parseRate = parsed.events / parsed.seconds;
    rows.push({ system: 'parley', figure: ALL, value: await rebuild('(all read models)', []), unit: '/s' });
    rows.push({ system: 'raw scan + JSON.parse', figure: ALL, value: parseRate, unit: '/s' });
    if (namesProjections) {
      rows.push({ system: 'parley', figure: HISTORY, value: await rebuild('history', ['history']), unit: '/s' });
      rows.push({ system: 'raw scan + JSON.parse', figure: HISTORY, value: parseRate, unit: '/s' });
      rows.push({ system: 'raw copy into history', figure: HISTORY, value: copy.events / copy.seconds, unit: '/s' });
    } else {
      notes.push('this CLI does not take projection names (`parley rebuild --help`): history alone not measured');
    }
    addRatios(rows, ALL, { 'raw scan + JSON.parse': '≥ 0.3' });
    addRatios(rows, HISTORY);
    notes.push(
      `CLI start-up (rebuild of an empty log, fastest of 3) ${startup.toFixed(2)} s, subtracted; raw scan without parsing ${scan.seconds.toFixed(2)} s (${Math.round(scan.events / scan.seconds)} events/s); ` +
        `scan + JSON.parse of data and metadata ${parsed.seconds.toFixed(2)} s (median of 3); raw copy = scan, parse, insert each MessagePosted into the history schema and mark it deleted on MessageDeleted, ${knobs.copyBatchSize} events per transaction (${copy.seconds.toFixed(2)} s)`,
    );

    if (opts.profileDir) {
      // Profiled separately, so the profiler's cost stays out of the figures above.
      removeReadModels(dir);
      progressLine('parley rebuild (all) under --cpu-prof');
      await runParleyCli(['rebuild', '--data-dir', dir], { timeoutMs, nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`] });
      notes.push('rebuild (all read models) CPU profile, top self time:', ...topSelfTime(opts.profileDir));
    }
  } finally {
    await child.stop();
  }
  return { scenario: name, knobs, rows, notes };
}
