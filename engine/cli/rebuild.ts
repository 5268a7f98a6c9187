/**
 * `parley rebuild`: drops read models and builds them again from the log, all of them in
 * one pass (each page of the log is read once and applied to every read model in one
 * transaction), with what only readers need — secondary indexes, the search index — built
 * once after the load instead of kept current event by event.
 */
import type Database from 'better-sqlite3';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ProjectionRunner, builtInProjections } from '../../projections/index.js';
import { headCursorOf } from '../store/index.js';
import { loadConfig } from '../node/config/index.js';
import { openLogStore } from '../cluster/index.js';
import { withUpcasting } from '../domain/index.js';
import { prefetchedLog, type SharingLog } from './log-prefetch.js';
import { cursorProgress, positionsCovered } from './progress.js';
import { splitRebuild, startSideRebuild, type SideRebuild } from './rebuild-side.js';
import { UsageError } from './usage-error.js';

const HELP = `usage: parley rebuild [projection…] [--projection NAME]… [--data-dir DIR]

Drops the named read models (all when none are named: ${builtInProjections().map((p) => p.name).join(', ')})
and rebuilds them from the log in DATA_DIR (or a cluster's, with NATS_URL, PARLEY_STREAM
and PARLEY_PARTITIONS as the node reads them), in one pass over the log. Shows progress on a
terminal and ends with a summary (events, seconds, events/s). Operator skips (parley skip)
are honoured. Run it while the node is stopped; a running node rebuilds one read model
with POST /v1/admin/projections/NAME/rebuild.
`;

/** Sets the file's journal mode if SQLite can now; either mode leaves the file consistent. */
function setJournalMode(db: Database.Database, mode: 'DELETE' | 'WAL'): void {
  try {
    db.pragma(`journal_mode = ${mode}`);
  } catch {
    // Busy (another connection): the mode it has works too, and the node's open sets WAL.
  }
}

/** Events read (and applied to every read model) per transaction. */
const BATCH = 5000;

export async function rebuild(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { 'data-dir': { type: 'string' }, projection: { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) return void process.stdout.write(HELP);
  const known = builtInProjections().map((p) => p.name);
  const named = [...positionals, ...(values.projection ?? [])];
  const unknown = named.filter((n) => !known.includes(n));
  if (unknown.length > 0) throw new UsageError(`unknown projection ${unknown.map((n) => `"${n}"`).join(', ')}; known: ${known.join(', ')}`);
  const names = named.length > 0 ? [...new Set(named)] : known;

  const config = loadConfig(process.env, values['data-dir'] ? { dataDir: values['data-dir'] } : {});
  // Events in their current shape, as the node's read models see them; a partitioned log
  // (PARLEY_PARTITIONS > 1) is read by cursor, and checkpoints are stored as its tokens.
  const store = withUpcasting(await openLogStore(config));
  const db = ProjectionRunner.openDatabase(join(config.dataDir, 'readmodels.sqlite'));
  // A rollback journal instead of the WAL while nobody else has the file open (the node is
  // stopped): each page the load writes goes to the file once, not to the WAL and then
  // again at every checkpoint (commits were 2.5 s of 18 s CPU at 300k events, now 1.0 s).
  // Killed midway, the next open rolls the hot journal back, so the file stays consistent
  // (and the node's open puts it back in WAL mode). With another connection open SQLite
  // keeps WAL (or the switch fails, busy), which is only slower.
  setJournalMode(db, 'DELETE');
  // The embedded log is read ahead on a thread of its own; a cluster's log through the port.
  const ahead: SharingLog | undefined = config.natsUrls.length === 0 ? prefetchedLog(join(config.dataDir, 'events.sqlite'), store, BATCH) : undefined;
  const feed = ahead ? { readAll: ahead.readAll, subscribe: store.subscribe.bind(store) } : store;
  const runner = new ProjectionRunner(feed, db, builtInProjections(), { batchSize: BATCH });
  const head = await headCursorOf(store);
  const bar = cursorProgress('rebuild', head);
  const started = performance.now();
  // On the embedded log, a share of the read models is rebuilt on a second core (rebuild-side.ts).
  const split = ahead ? splitRebuild(names) : { main: names, side: [] };
  let side: SideRebuild | undefined;
  try {
    if (ahead && split.side.length > 0) side = startSideRebuild(db, ahead.share(), join(config.dataDir, 'events.sqlite'), join(config.dataDir, 'readmodels.sqlite.rebuild-side'), split.side, BATCH);
    // Done reading (or stopped), this thread no longer holds the shared read-ahead back.
    const own = runner.rebuild(split.main, (name) => bar.reach(runner.cursorOf(name)), { bulkLoad: true }).finally(() => ahead?.release());
    // Both finish (and the side's read models are copied in) even when one of them stops on an event.
    const [mine, theirs] = await Promise.allSettled([own, own.catch(() => {}).then(() => side?.merge(db))]);
    for (const r of [mine, theirs]) if (r.status === 'rejected') throw r.reason;
  } finally {
    bar.finish();
    await side?.close();
    await runner.stop();
    await ahead?.close();
    setJournalMode(db, 'WAL');
    db.close();
    await store.close();
  }
  const seconds = (performance.now() - started) / 1000;
  const size = positionsCovered(head);
  const rate = seconds > 0 ? Math.round(size / seconds) : size;
  const upTo = head.partitions === 1 ? '' : ` of ${head.partitions} partitions (up to cursor ${head.encode()})`;
  process.stdout.write(`rebuilt ${names.join(', ')} from ${size} events${upTo} in ${seconds.toFixed(2)} s (${rate} events/s)\n`);
}
