/**
 * `parley verify`: checks the invariants an operator can check offline, on a data
 * directory or (with --nats) on a cluster's JetStream stream, through the EventStore port.
 *
 * - The log (log-check.ts): every stream's seqs are dense (1..n) and positions increase
 *   with seq inside each stream; on the embedded store global positions have no holes
 *   too (it assigns them densely, so a hole means an event row was removed). A
 *   partitioned log is read by cursor (log-scan.ts), its positions checked per partition.
 * - A cluster's log: no envelope claims a conversation seq an earlier one already took
 *   (engine/store/jetstream/duplicate-seqs.ts); each one found is a problem, with the
 *   stream, the seq and the JetStream sequence of the skipped message.
 * - The read models in DATA_DIR: each built-in projection's tables equal a fresh replay of
 *   the log (events in their current shape, as the node applies them) up to that
 *   projection's checkpoint (a cursor on a partitioned log), so a node that is merely
 *   behind is not reported.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { builtInProjections, skipsOf, type Projection } from '../../projections/index.js';
import { withUpcasting } from '../domain/index.js';
import type { ClusterLog } from '../cluster/index.js';
import { headCursorOf, partitionsOf, type EventStore, type LogCursor } from '../store/index.js';
import { checkpointCursor } from './checkpoint-cursor.js';
import { dataDirFiles } from './data-dir.js';
import { EXAMPLES, LogCheck } from './log-check.js';
import { eventsByPartition, eventsUpTo } from './log-scan.js';
import { openLog } from './open-log.js';
import { cursorProgress, elapsed, progressBar } from './progress.js';
import { canonicalRows, columnsOf, projectionTables, tableExists } from './read-model-tables.js';

const HELP = `usage: parley verify [--data-dir DIR] [--nats URLS] [--skip-read-models]

Checks the log of DATA_DIR — or, with --nats URLS (or NATS_URL, and PARLEY_STREAM), the
cluster's JetStream stream: every stream's seqs are dense (1, 2, 3, … no gaps) and
positions increase within each stream (on DATA_DIR's own store also: positions have no
holes). On a cluster's stream it also scans for envelopes that claim a seq an earlier
envelope already took (a nats-server bug such as nats-server#4320, or a foreign writer);
every node skips those the same way, and each is reported with its stream, seq and
JetStream sequence. Then every built-in read model in DATA_DIR (a node's data directory,
on a cluster too) must equal a fresh replay of the log up to its checkpoint (compared
table by table, row by row). On a partitioned log (PARLEY_PARTITIONS > 1) positions are
checked per partition and each read model's checkpoint is a cursor. Prints each problem
and exits 1 if there is any; prints a summary and exits 0 otherwise. Safe while nodes run.
`;

export async function verify(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { 'data-dir': { type: 'string' }, 'skip-read-models': { type: 'boolean' }, nats: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) return void process.stdout.write(HELP);
  const files = dataDirFiles(values['data-dir']);
  const { store, where, jetstream } = await openLog(files, values.nats);
  const started = performance.now();
  const problems: string[] = [];
  const duplicates: string[] = [];
  const notes: string[] = [];
  const check = new LogCheck(store.kind === 'sqlite', partitionsOf(store));
  const readModels = !values['skip-read-models'];
  try {
    const head = await headCursorOf(store);
    const bar = cursorProgress('check log', head);
    for await (const page of eventsByPartition(store, head)) {
      check.add(page);
      bar.advance(page);
    }
    bar.finish();
    problems.push(...check.problems());
    if (jetstream) duplicates.push(...(await duplicateSeqs(jetstream)));
    if (readModels) {
      if (!existsSync(files.readModels)) notes.push(`no read models in ${files.dir} yet (a node builds them on start)`);
      else await checkReadModels(withUpcasting(store), files.readModels, problems, notes);
    }
  } finally {
    await store.close();
  }
  for (const p of duplicates.slice(0, 100)) process.stdout.write(`problem: ${p}\n`);
  if (duplicates.length > 100) process.stdout.write(`problem: … ${duplicates.length - 100} more duplicate seqs\n`);
  for (const p of problems) process.stdout.write(`problem: ${p}\n`);
  for (const n of notes) process.stdout.write(`note: ${n}\n`);
  const what = `${check.streamCount} streams, ${check.events} events${readModels ? `, ${builtInProjections().length} read models` : ''}`;
  const failures = [
    ...(duplicates.length > 0 ? [`${duplicates.length} duplicate seq${duplicates.length === 1 ? '' : 's'}`] : []),
    ...(problems.length > 0 ? [`${problems.length} problem${problems.length === 1 ? '' : 's'}`] : []),
  ];
  const place = store.kind === 'sqlite' ? files.dir : where;
  if (failures.length > 0) {
    process.stdout.write(`verify FAILED: ${failures.join(' and ')} in ${place} (${what}) in ${elapsed(started)}\n`);
    process.exitCode = 1;
  } else {
    process.stdout.write(`verify ok: ${what} in ${place} are consistent (${elapsed(started)})\n`);
  }
}

/** A full scan of the JetStream log for envelopes that lose their seq to an earlier one. */
async function duplicateSeqs(store: ClusterLog): Promise<string[]> {
  let bar: ReturnType<typeof progressBar> | undefined;
  const found = await store.findDuplicateSeqs((seq, last) => (bar ??= progressBar('scan for duplicate seqs', last)).update(seq));
  bar?.finish();
  return found.map(
    (d) => `stream ${d.stream}: JetStream message ${d.jetstreamSeq} claims seq ${d.firstSeq}, already taken (the stream was at version ${d.standingVersion}); skipped on every node`,
  );
}

async function checkReadModels(store: EventStore, file: string, problems: string[], notes: string[]): Promise<void> {
  const live = new Database(file, { fileMustExist: true });
  try {
    // One read transaction: checkpoints and tables from the same moment, even while a node runs.
    live.exec('BEGIN');
    try {
      const hasCheckpoints = tableExists(live, 'projection_checkpoints');
      for (const projection of builtInProjections()) {
        const cp = hasCheckpoints
          ? (live.prepare('SELECT version, position FROM projection_checkpoints WHERE name = ?').get(projection.name) as { version: number; position: number | string } | undefined)
          : undefined;
        if (!cp) {
          notes.push(`read model ${projection.name} has not been built yet (the node builds it on start)`);
          continue;
        }
        if (cp.version !== projection.version) {
          notes.push(`read model ${projection.name} is version ${cp.version}, this code is version ${projection.version}: the node rebuilds it on start`);
          continue;
        }
        // Events an operator skipped for this projection (parley skip) are skipped in the replay too.
        const skipped = new Set(tableExists(live, 'projection_skips') ? skipsOf(live).filter((x) => x.projection === projection.name).map((x) => x.position) : []);
        if (skipped.size > 0) notes.push(`read model ${projection.name} skips positions ${[...skipped].join(', ')} (parley skip --list)`);
        const checkpoint = checkpointCursor(store, cp.position);
        if (!checkpoint) {
          notes.push(`read model ${projection.name} is at ${cp.position}, a checkpoint of a log with another partition count: the node rebuilds it on start`);
          continue;
        }
        const fresh = await replayUpTo(store, projection, checkpoint, skipped);
        try {
          compare(projection, live, fresh, problems);
        } finally {
          fresh.close();
        }
      }
    } finally {
      live.exec('COMMIT');
    }
  } finally {
    live.close();
  }
}

async function replayUpTo(store: EventStore, projection: Projection, checkpoint: LogCursor, skipped: ReadonlySet<number>): Promise<Database.Database> {
  const db = new Database(':memory:');
  projection.setup(db);
  const handles = new Set(projection.handles);
  const bar = cursorProgress(`replay ${projection.name}`, checkpoint);
  for await (const page of eventsUpTo(store, checkpoint)) {
    const relevant = page.filter((e) => handles.has(e.type) && !skipped.has(e.position));
    if (relevant.length > 0) db.transaction(() => projection.handle(relevant, db))();
    bar.advance(page);
  }
  bar.finish();
  return db;
}

function compare(projection: Projection, live: Database.Database, fresh: Database.Database, problems: string[]): void {
  for (const table of projectionTables(projection)) {
    if (!tableExists(live, table)) {
      problems.push(`read model ${projection.name}: table ${table} is missing`);
      continue;
    }
    const columns = columnsOf(fresh, table);
    const liveColumns = new Set(columnsOf(live, table));
    const missing = columns.filter((c) => !liveColumns.has(c));
    if (missing.length > 0) {
      problems.push(`read model ${projection.name}: table ${table} lacks columns ${missing.join(', ')}`);
      continue;
    }
    const a = canonicalRows(live, table, columns);
    const b = canonicalRows(fresh, table, columns);
    const onlyLive = multisetMinus(a, b);
    const onlyFresh = multisetMinus(b, a);
    if (onlyLive.length === 0 && onlyFresh.length === 0) continue;
    const lines = [
      `read model ${projection.name}: table ${table} differs from a fresh replay (${a.length} rows vs ${b.length}; columns ${columns.join(', ')})`,
      ...onlyLive.slice(0, EXAMPLES).map((r) => `    only in the read model:  ${r}`),
      ...onlyFresh.slice(0, EXAMPLES).map((r) => `    only in a fresh replay:  ${r}`),
    ];
    problems.push(lines.join('\n'));
  }
}

/** Elements of sorted `a` not matched one-for-one in sorted `b`. */
function multisetMinus(a: string[], b: string[]): string[] {
  const out: string[] = [];
  let j = 0;
  for (const x of a) {
    while (j < b.length && b[j]! < x) j += 1;
    if (j < b.length && b[j] === x) j += 1;
    else out.push(x);
  }
  return out;
}

