/**
 * `parley verify`: checks the invariants an operator can check offline.
 *
 * - The log: every stream's seqs are dense (1..n), positions increase with seq inside each
 *   stream, and global positions have no holes (the embedded store assigns them densely, so
 *   a hole means an event row was removed).
 * - The read models: each built-in projection's tables equal a fresh replay of the log up
 *   to that projection's checkpoint (so a node that is merely behind is not reported).
 * - A cluster's log (with --nats or NATS_URL): no envelope claims a conversation seq an
 *   earlier one already took (engine/store/jetstream/duplicate-seqs.ts); each one found is
 *   a problem, with the stream, the seq and the JetStream sequence of the skipped message.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { builtInProjections, skipsOf, type Projection } from '../../projections/index.js';
import type { SqliteEventStore, StoredEvent } from '../store/index.js';
import { openLogStore } from '../cluster/index.js';
import { loadConfig } from '../node/config/index.js';
import { JetStreamEventStore } from '../store/jetstream/index.js';
import { dataDirFiles, openExistingStore } from './data-dir.js';
import { elapsed, progressBar } from './progress.js';
import { canonicalRows, columnsOf, projectionTables, tableExists } from './read-model-tables.js';

const HELP = `usage: parley verify [--data-dir DIR] [--skip-read-models] [--nats URLS]

Checks DATA_DIR: every stream's seqs are dense (1, 2, 3, … no gaps), positions increase
within each stream and have no holes, and every built-in read model equals a fresh replay
of the log up to its checkpoint (compared table by table, row by row). Prints each
problem and exits 1 if there is any; prints a summary and exits 0 otherwise. Safe while the
node runs.

With --nats URLS (or NATS_URL, and PARLEY_STREAM) it checks a cluster's log in JetStream
instead: a full scan for envelopes that claim a seq an earlier envelope already took (a
nats-server bug such as nats-server#4320, or a foreign writer). Every node skips those the
same way; each is reported with its stream, seq and JetStream sequence.
`;

/** How many examples of one problem are printed. */
const EXAMPLES = 5;

export async function verify(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { 'data-dir': { type: 'string' }, 'skip-read-models': { type: 'boolean' }, nats: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) return void process.stdout.write(HELP);
  const files = dataDirFiles(values['data-dir']);
  const natsUrls = values.nats ?? process.env.NATS_URL;
  if (natsUrls) return verifyClusterLog(files.dir, natsUrls);
  const store = openExistingStore(files);
  const started = performance.now();
  const problems: string[] = [];
  const notes: string[] = [];
  let streams = 0;
  let events = 0;
  try {
    ({ streams, events } = checkLog(store.db, problems));
    if (!values['skip-read-models']) {
      if (!existsSync(files.readModels)) notes.push('no read models yet (the node builds them on start)');
      else await checkReadModels(store, files.readModels, problems, notes);
    }
  } finally {
    await store.close();
  }
  for (const p of problems) process.stdout.write(`problem: ${p}\n`);
  for (const n of notes) process.stdout.write(`note: ${n}\n`);
  const what = `${streams} streams, ${events} events${values['skip-read-models'] ? '' : `, ${builtInProjections().length} read models`}`;
  if (problems.length > 0) {
    process.stdout.write(`verify FAILED: ${problems.length} problem${problems.length === 1 ? '' : 's'} in ${files.dir} (${what}) in ${elapsed(started)}\n`);
    process.exitCode = 1;
  } else {
    process.stdout.write(`verify ok: ${what} in ${files.dir} are consistent (${elapsed(started)})\n`);
  }
}

function checkLog(db: Database.Database, problems: string[]): { streams: number; events: number } {
  const streams = db.prepare('SELECT count(DISTINCT stream) FROM events').pluck().get() as number;
  const events = db.prepare('SELECT count(*) FROM events').pluck().get() as number;
  // Seq gaps and seqs that do not start at 1, per stream.
  const gaps = db
    .prepare(
      `SELECT stream, prev, seq FROM (
         SELECT stream, seq, coalesce(lag(seq) OVER (PARTITION BY stream ORDER BY seq), 0) AS prev FROM events
       ) WHERE seq != prev + 1 ORDER BY stream, seq`,
    )
    .all() as Array<{ stream: string; prev: number; seq: number }>;
  const byStream = new Map<string, string[]>();
  for (const g of gaps) {
    const list = byStream.get(g.stream) ?? [];
    list.push(g.seq - g.prev === 2 ? `${g.prev + 1}` : `${g.prev + 1}..${g.seq - 1}`);
    byStream.set(g.stream, list);
  }
  for (const [stream, missing] of byStream) {
    problems.push(`stream ${stream}: seqs are not dense, missing ${missing.slice(0, EXAMPLES).join(', ')}${missing.length > EXAMPLES ? `, … (${missing.length} gaps)` : ''}`);
  }
  // Positions must grow with seq inside a stream.
  const disorder = db
    .prepare(
      `SELECT stream, seq, position, prev FROM (
         SELECT stream, seq, position, lag(position) OVER (PARTITION BY stream ORDER BY seq) AS prev FROM events
       ) WHERE prev IS NOT NULL AND position <= prev ORDER BY stream, seq LIMIT ${EXAMPLES}`,
    )
    .all() as Array<{ stream: string; seq: number; position: number; prev: number }>;
  for (const d of disorder) problems.push(`stream ${d.stream}: seq ${d.seq} has position ${d.position}, not after ${d.prev} of the seq before it`);
  // Global positions are assigned densely by the embedded store; a hole is a lost event.
  const holes = db
    .prepare(
      `SELECT prev, position FROM (
         SELECT position, coalesce(lag(position) OVER (ORDER BY position), 0) AS prev FROM events
       ) WHERE position != prev + 1 ORDER BY position`,
    )
    .all() as Array<{ prev: number; position: number }>;
  if (holes.length > 0) {
    const shown = holes.slice(0, EXAMPLES).map((h) => (h.position - h.prev === 2 ? `${h.prev + 1}` : `${h.prev + 1}..${h.position - 1}`));
    problems.push(`positions have holes (events removed from the log?): ${shown.join(', ')}${holes.length > EXAMPLES ? `, … (${holes.length} holes)` : ''}`);
  }
  return { streams, events };
}

async function checkReadModels(store: SqliteEventStore, file: string, problems: string[], notes: string[]): Promise<void> {
  const live = new Database(file, { fileMustExist: true });
  try {
    // One read transaction: checkpoints and tables from the same moment, even while a node runs.
    live.exec('BEGIN');
    try {
      const hasCheckpoints = tableExists(live, 'projection_checkpoints');
      for (const projection of builtInProjections()) {
        const cp = hasCheckpoints
          ? (live.prepare('SELECT version, position FROM projection_checkpoints WHERE name = ?').get(projection.name) as { version: number; position: number } | undefined)
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
        const fresh = await replayUpTo(store, projection, cp.position, skipped);
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

async function replayUpTo(store: SqliteEventStore, projection: Projection, position: number, skipped: ReadonlySet<number>): Promise<Database.Database> {
  const db = new Database(':memory:');
  projection.setup(db);
  const handles = new Set(projection.handles);
  const bar = progressBar(`replay ${projection.name}`, position);
  for (let after = 0; after < position; ) {
    const page: StoredEvent[] = store.readAllSync(after, 5000).filter((e) => e.position <= position);
    if (page.length === 0) break;
    after = page[page.length - 1]!.position;
    const relevant = page.filter((e) => handles.has(e.type) && !skipped.has(e.position));
    if (relevant.length > 0) db.transaction(() => projection.handle(relevant, db))();
    bar.update(after);
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

/** The cluster variant: a full scan of the JetStream log for duplicate seqs. */
async function verifyClusterLog(dataDir: string, natsUrls: string): Promise<void> {
  const config = loadConfig({ ...process.env, NATS_URL: natsUrls }, { dataDir, jwtSecret: 'verify-needs-no-secret-0000000', nodeId: 'cli' });
  const store = await openLogStore(config);
  const started = performance.now();
  const problems: string[] = [];
  let scanned = 0;
  try {
    if (!(store instanceof JetStreamEventStore)) throw new Error('expected the JetStream log');
    let bar: ReturnType<typeof progressBar> | undefined;
    const found = await store.findDuplicateSeqs((seq, last) => {
      scanned = last;
      (bar ??= progressBar('scan log', last)).update(seq);
    });
    bar?.finish();
    for (const d of found) {
      problems.push(
        `stream ${d.stream}: JetStream message ${d.jetstreamSeq} claims seq ${d.firstSeq}, already taken (the stream was at version ${d.standingVersion}); skipped on every node`,
      );
    }
  } finally {
    await store.close();
  }
  for (const p of problems.slice(0, 100)) process.stdout.write(`problem: ${p}\n`);
  if (problems.length > 100) process.stdout.write(`problem: … ${problems.length - 100} more duplicate seqs\n`);
  const what = `${scanned} JetStream messages of ${config.streamName}`;
  if (problems.length > 0) {
    process.stdout.write(`verify FAILED: ${problems.length} duplicate seq${problems.length === 1 ? '' : 's'} in ${what} (${elapsed(started)})\n`);
    process.exitCode = 1;
  } else {
    process.stdout.write(`verify ok: no duplicate seqs in ${what} (${elapsed(started)})\n`);
  }
}
