/**
 * `parley skip`: gets a read model past a poison event without editing the log.
 *
 * A projection that cannot apply an event stops there and retries (the node keeps
 * running; the admin projections route and `parley_projection_failed` show where). When
 * the event can never be applied, the operator records a skip for that projection and
 * position in the read-model file; the running node takes it at its next retry, a stopped
 * one at start, and rebuilds honour it. A running node can also be told over HTTP:
 * POST /v1/admin/projections/<name>/skip.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { builtInProjections, recordSkip, skipsOf } from '../../projections/index.js';
import { headCursorOf, LogCursor, partitionsOf, readAllAfter, type EventStore, type StoredEvent } from '../store/index.js';
import { checkpointCursor } from './checkpoint-cursor.js';
import { dataDirFiles } from './data-dir.js';
import { openLogForReading } from './open-log.js';
import { tableExists } from './read-model-tables.js';
import { UsageError, integerFlag } from './usage-error.js';

const HELP = `usage: parley skip --projection NAME --position N [--reason TEXT] [--data-dir DIR] [--nats URLS]
       parley skip --list [--data-dir DIR] [--json]

Makes one read model pass over the event at log position N: for a poison event that the
projection can never apply (see the failed projection's position in
GET /v1/admin/projections or the node's log). The log is not changed; the skip is recorded
with its reason and time in DATA_DIR/readmodels.sqlite (table projection_skips). Only the
named projection skips the event; the others keep it.

A running node picks the skip up at the projection's next retry (within 10 s), a stopped
node when it starts, and \`parley rebuild\` honours it. A running node can also be told at
once: POST /v1/admin/projections/NAME/skip {"position": N} with an admin token.

Checks that the projection exists in DATA_DIR and that the log has an event at N (the
embedded log in DATA_DIR, or a cluster's stream with --nats / NATS_URL). On a partitioned
log (PARLEY_PARTITIONS > 1) N is the event's position as the node reports it (positions
are unique there too; each names its partition).
--list prints the recorded skips.
`;

export async function skip(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      projection: { type: 'string' },
      position: { type: 'string' },
      reason: { type: 'string' },
      'data-dir': { type: 'string' },
      nats: { type: 'string' },
      list: { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void process.stdout.write(HELP);
  const files = dataDirFiles(values['data-dir']);
  if (!existsSync(files.readModels)) {
    throw new Error(`no read models at ${files.readModels} (use --data-dir or DATA_DIR to point at a node's data directory)`);
  }
  if (values.list) return list(files.readModels, values.json === true);

  const name = values.projection;
  const position = integerFlag('position', values.position);
  if (!name) throw new UsageError('--projection is required (the name of the stopped read model)');
  if (position === undefined || position < 1) throw new UsageError('--position is required: the log position of the event to skip (1 or more)');

  const db = new Database(files.readModels, { fileMustExist: true, timeout: 10_000 });
  try {
    const known = knownProjections(db);
    if (!known.includes(name)) throw new UsageError(`no projection named "${name}" in ${files.readModels}; known: ${known.join(', ')}`);
    const { event, past } = await eventAt(files, values.nats, position, storedCheckpoint(db, name));
    const reason = values.reason ?? `parley skip by ${process.env.USER ?? 'an operator'}`;
    const recorded = recordSkip(db, name, position, reason);
    process.stdout.write(
      `skip recorded: ${name} passes over position ${position} (${event.type} in ${event.stream}), reason "${recorded.reason}"\n` +
        (past
          ? `note: ${name} is already past position ${position} (checkpoint ${storedCheckpoint(db, name)}); the skip applies to its next rebuild\n`
          : `a running node resumes ${name} at its next retry; a stopped one when it starts\n`),
    );
  } finally {
    db.close();
  }
}

/** Projections that have run on this data directory, and the built-in ones. */
function knownProjections(db: Database.Database): string[] {
  const names = new Set(builtInProjections().map((p) => p.name));
  if (tableExists(db, 'projection_checkpoints')) {
    for (const n of db.prepare('SELECT name FROM projection_checkpoints').pluck().all() as string[]) names.add(n);
  }
  return [...names].sort();
}

function storedCheckpoint(db: Database.Database, name: string): number | string | undefined {
  if (!tableExists(db, 'projection_checkpoints')) return undefined;
  return db.prepare('SELECT position FROM projection_checkpoints WHERE name = ?').pluck().get(name) as number | string | undefined;
}

/** The event at `position`, and whether the read model's checkpoint already covers it. */
async function eventAt(files: ReturnType<typeof dataDirFiles>, nats: string | undefined, position: number, checkpoint: number | string | undefined) {
  const store = await openLogForReading(files, nats);
  try {
    const head = await headCursorOf(store);
    const event = head.covers(position) ? await findEvent(store, head, position) : undefined;
    if (!event) throw new UsageError(`the log has no event at position ${position} (head: ${head.encode()})`);
    const cursor = checkpoint === undefined ? undefined : checkpointCursor(store, checkpoint);
    return { event, past: cursor?.covers(position) ?? false };
  } finally {
    await store.close();
  }
}

/**
 * The event at `position` in a log whose `head` covers it: read from just before it in
 * its partition, with every other partition at its head, so its partition's next event
 * comes first of its own; other partitions' events that came after the head may come too.
 */
async function findEvent(store: EventStore, head: LogCursor, position: number): Promise<StoredEvent | undefined> {
  const n = partitionsOf(store);
  const p = position % n;
  const others = head.entries.filter((entry, i) => i !== p && entry > 0);
  let from = LogCursor.start(n).advancedBy([...others, position - n].filter((x) => x > 0).map((x) => ({ position: x })));
  for (;;) {
    const page = await readAllAfter(store, from, n === 1 ? 1 : 100);
    const mine = page.find((e) => e.position % n === p);
    if (mine || page.length === 0) return mine?.position === position ? mine : undefined;
    from = from.advancedBy(page);
  }
}

function list(file: string, json: boolean): void {
  const db = new Database(file, { fileMustExist: true, readonly: true });
  try {
    const skips = tableExists(db, 'projection_skips') ? skipsOf(db) : [];
    if (json) return void process.stdout.write(`${JSON.stringify(skips)}\n`);
    if (skips.length === 0) return void process.stdout.write('no skips recorded\n');
    for (const s of skips) {
      process.stdout.write(`${s.projection}\tposition ${s.position}\t${new Date(s.at).toISOString()}\t${s.reason}\n`);
    }
  } finally {
    db.close();
  }
}
