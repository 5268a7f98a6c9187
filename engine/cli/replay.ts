/**
 * `parley replay`: reads the log (or one conversation) between two positions or times and
 * either prints the events, or applies them to one projection in a fresh temporary
 * read-model database and prints what it built. `--conversation ID --at T` is time travel:
 * the conversation's history (messages, reactions, deletions) as it was at T.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { builtInProjections, readMessages, type Projection } from '../../projections/index.js';
import { conversationStream, cursorFor, headCursorOf, isInvalidCursorError, LogCursor, partitionsOf, type EventStore, type StoredEvent } from '../store/index.js';
import { dataDirFiles } from './data-dir.js';
import { openLogForReading } from './open-log.js';
import { eventsUpTo } from './log-scan.js';
import { cursorProgress, elapsed, writeLine } from './progress.js';
import { integerFlag, timeFlag, UsageError } from './usage-error.js';
import { projectionTables, tableRows } from './read-model-tables.js';

const HELP = `usage: parley replay [--conversation ID] [--from-position N] [--to-position N]
                    [--after CURSOR] [--upto CURSOR]
                    [--from-time ISO] [--to-time ISO | --at ISO]
                    [--into PROJECTION [--db FILE]] [--format ndjson|text] [--data-dir DIR | --nats URLS]

Reads events of the whole log, or of one conversation, from DATA_DIR — or, with --nats (or
NATS_URL, and PARLEY_STREAM), from the cluster's JetStream stream.
  (default)           prints them, one per line: NDJSON {position,stream,seq,id,type,data,metadata}
                      or, with --format text, one readable line each
  --into PROJECTION   applies them to that projection (${builtInProjections().map((p) => p.name).join(', ')}) in a
                      fresh temporary database and prints the rows it built (NDJSON
                      {"table","row"}, or text); the node's read models are not touched.
                      --db FILE keeps that database in a new file for inspection
  --conversation ID --at ISO
                      time travel: the conversation as it was at that time (title, members,
                      messages with their reactions and deletions as of then); text by
                      default, --format ndjson prints one message per line

Bounds are inclusive: --from-position/--to-position on the global position, --from-time/
--to-time (or --at) on the time an event was recorded (metadata.at). --after CURSOR takes
the events a cursor does not cover, --upto CURSOR those it covers: on a partitioned log
(PARLEY_PARTITIONS > 1), which has no order across partitions, these are the position
bounds (cursor tokens c1.…, as parley stats, export, tail and this command print; 0 is the
start), and each printed NDJSON line carries the "cursor" to resume after it. On an
unpartitioned log a cursor is a position (--after N is --from-position N+1). The whole log
is read up to its head when the command starts. A summary goes to stderr (with the cursor
reached on a partitioned log), since stdout carries the output. Safe while the node runs.
`;

const PAGE = 5000;

export async function replay(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      conversation: { type: 'string', short: 'c' },
      'from-position': { type: 'string' },
      'to-position': { type: 'string' },
      after: { type: 'string' },
      upto: { type: 'string' },
      'from-time': { type: 'string' },
      'to-time': { type: 'string' },
      at: { type: 'string' },
      into: { type: 'string' },
      db: { type: 'string' },
      format: { type: 'string' },
      'data-dir': { type: 'string' },
      nats: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void process.stdout.write(HELP);
  if (values.at !== undefined && values['to-time'] !== undefined) throw new UsageError('give --at or --to-time, not both');
  const format = values.format;
  if (format !== undefined && format !== 'ndjson' && format !== 'text') throw new UsageError(`--format must be ndjson or text, got "${format}"`);
  const timeTravel = values.at !== undefined && values.conversation !== undefined && values.into === undefined;
  const fromPosition = integerFlag('from-position', values['from-position']);
  const toPosition = integerFlag('to-position', values['to-position']);
  if (fromPosition !== undefined && values.after !== undefined) throw new UsageError('give --from-position or --after, not both');
  if (toPosition !== undefined && values.upto !== undefined) throw new UsageError('give --to-position or --upto, not both');
  const times = {
    fromTime: timeFlag('from-time', values['from-time']) ?? -Infinity,
    toTime: timeFlag('to-time', values['to-time']) ?? timeFlag('at', values.at) ?? Infinity,
  };
  if (values.db !== undefined && values.into === undefined) throw new UsageError('--db goes with --into');
  if (values.db !== undefined && existsSync(values.db)) throw new UsageError(`--db must name a new file; ${values.db} exists`);
  let projection: Projection | undefined;
  if (values.into !== undefined) {
    projection = builtInProjections().find((p) => p.name === values.into);
    if (!projection) throw new UsageError(`unknown projection "${values.into}"; known: ${builtInProjections().map((p) => p.name).join(', ')}`);
  }

  const files = dataDirFiles(values['data-dir']);
  const store = await openLogForReading(files, values.nats);
  const started = performance.now();
  const scope = values.conversation ? `conversation ${values.conversation}` : 'the whole log';
  try {
    const filter: EventFilter = {
      ...times,
      after: positionBound(store, 'after', values.after, fromPosition === undefined || fromPosition === 0 ? undefined : fromPosition - 1) ?? LogCursor.start(partitionsOf(store)),
      upto: positionBound(store, 'upto', values.upto, toPosition) ?? (await headCursorOf(store)),
    };
    if (timeTravel) {
      const n = await showConversationAt(store, values.conversation!, filter, values.at!, format ?? 'text');
      process.stderr.write(`replayed ${n} events of ${scope} up to ${values.at} in ${elapsed(started)}\n`);
    } else if (projection) {
      const { events, rows } = await replayInto(store, projection, values.conversation, filter, format ?? 'ndjson', values.db);
      process.stderr.write(`replayed ${events} events of ${scope} into a fresh ${projection.name} read model${values.db ? ` (kept in ${values.db})` : ''}: ${rows} rows, in ${elapsed(started)}\n`);
    } else {
      let n = 0;
      // On a partitioned log each line says where a replay resumes after it (a stream's cursor is its seq).
      const cursors = partitionsOf(store) > 1 && values.conversation === undefined;
      let reached = filter.after;
      for await (const batch of readEvents(store, values.conversation, filter)) {
        for (const e of batch) {
          n += 1;
          reached = reached.advancedBy([e]);
          await writeLine(process.stdout, format === 'text' ? textLine(e) : eventJson(e, cursors ? reached : undefined));
        }
      }
      const upTo = cursors ? ` up to cursor ${reached.encode()}` : '';
      process.stderr.write(`replayed ${n} events of ${scope}${upTo} in ${elapsed(started)}\n`);
    }
  } finally {
    await store.close();
  }
}

interface EventFilter {
  /** Events this cursor covers are left out. */
  after: LogCursor;
  /** Only events this cursor covers are kept. */
  upto: LogCursor;
  fromTime: number;
  toTime: number;
}

/**
 * A position bound as a cursor of this log: `token` (a cursor token; --after/--upto), or
 * `position` (a plain position; --from-position/--to-position, which a partitioned log
 * has no use for: no order across partitions). Undefined when neither is given.
 */
function positionBound(store: EventStore, flag: 'after' | 'upto', token: string | undefined, position: number | undefined): LogCursor | undefined {
  if (position !== undefined) {
    const n = partitionsOf(store);
    if (n > 1) throw new UsageError(`a log of ${n} partitions has no order across them, so no position range: give --after/--upto with cursor tokens (c1.…)`);
    return LogCursor.at(position);
  }
  if (token === undefined) return undefined;
  try {
    return cursorFor(store, token);
  } catch (err) {
    if (isInvalidCursorError(err)) throw new UsageError(`--${flag}: ${err.message}`);
    throw err;
  }
}

/** Batches of matching events in log order (position order per partition; seq order for one conversation). */
async function* readEvents(store: EventStore, conversationId: string | undefined, f: EventFilter): AsyncGenerator<StoredEvent[]> {
  const keep = (e: StoredEvent) => !f.after.covers(e.position) && f.upto.covers(e.position) && e.metadata.at >= f.fromTime && e.metadata.at <= f.toTime;
  if (conversationId !== undefined) {
    const stream = conversationStream(conversationId);
    for (let after = 0; ; ) {
      const page = await store.readStream(stream, { afterSeq: after, limit: PAGE });
      if (page.length === 0) return;
      after = page[page.length - 1]!.seq;
      yield page.filter(keep);
    }
  }
  const bar = cursorProgress('replay', f.upto);
  try {
    for await (const page of eventsUpTo(store, f.upto, f.after)) {
      bar.advance(page);
      yield page.filter(keep);
    }
  } finally {
    bar.finish();
  }
}

/** Applies the events to a projection in a fresh in-memory database, as the runner would. */
async function build(store: EventStore, projections: Projection[], conversationId: string | undefined, f: EventFilter, file = ':memory:') {
  const db = new Database(file);
  for (const p of projections) p.setup(db);
  let events = 0;
  for await (const batch of readEvents(store, conversationId, f)) {
    events += batch.length;
    db.transaction(() => {
      for (const p of projections) {
        const relevant = batch.filter((e) => p.handles.includes(e.type));
        if (relevant.length > 0) p.handle(relevant, db);
      }
    })();
  }
  return { db, events };
}

async function replayInto(store: EventStore, projection: Projection, conversationId: string | undefined, f: EventFilter, format: string, file?: string) {
  const { db, events } = await build(store, [projection], conversationId, f, file);
  let rows = 0;
  try {
    for (const table of projectionTables(projection)) {
      if (format === 'text') await writeLine(process.stdout, `-- ${table}`);
      for (const row of tableRows(db, table)) {
        rows += 1;
        await writeLine(process.stdout, format === 'text' ? Object.values(row).map((v) => String(v)).join('\t') : JSON.stringify({ table, row }));
      }
    }
  } finally {
    db.close();
  }
  return { events, rows };
}

async function showConversationAt(store: EventStore, conversationId: string, f: EventFilter, at: string, format: string): Promise<number> {
  // History pages carry each message's attachments, which the attachment-uploads read model keeps.
  const shown = new Set(['history', 'conversation-list', 'attachment-uploads']);
  const projections = builtInProjections().filter((p) => shown.has(p.name));
  const { db, events } = await build(store, projections, conversationId, f);
  try {
    if (events === 0) throw new Error(`conversation ${conversationId} has no events up to ${at} (wrong id, or it did not exist yet)`);
    const messages = [];
    for (let after = 0; ; ) {
      const page = readMessages(db, conversationId, { after, limit: 1000 });
      if (page.length === 0) break;
      messages.push(...page);
      after = page[page.length - 1]!.seq;
    }
    if (format === 'ndjson') {
      for (const m of messages) await writeLine(process.stdout, JSON.stringify(m));
      return events;
    }
    const meta = db.prepare('SELECT title FROM conversations WHERE id = ?').pluck().get(conversationId) as string | undefined;
    const members = db.prepare('SELECT user_id FROM members WHERE conversation_id = ? ORDER BY user_id').pluck().all(conversationId) as string[];
    await writeLine(process.stdout, `conversation ${conversationId}${meta !== undefined ? ` "${meta}"` : ''} as of ${new Date(f.toTime).toISOString()}`);
    await writeLine(process.stdout, `members: ${members.join(', ') || '(none)'}`);
    for (const m of messages) {
      const reactions = Object.entries(m.reactions).map(([emoji, users]) => `${emoji} ${users.join(',')}`).join('  ');
      const body = m.deleted ? '(deleted)' : m.text;
      await writeLine(process.stdout, `#${m.seq} ${m.sentAt} ${m.author}: ${body}${reactions ? `   [${reactions}]` : ''}`);
    }
    return events;
  } finally {
    db.close();
  }
}

/** The feed's shape ({position, stream, seq, id, type, data, metadata}, and its cursor on a partitioned log), so tools read both alike. */
function eventJson(e: StoredEvent, cursor?: LogCursor): string {
  return JSON.stringify({ position: e.position, stream: e.stream, seq: e.seq, id: e.id, type: e.type, data: e.data, metadata: e.metadata, ...(cursor && { cursor: cursor.encode() }) });
}

function textLine(e: StoredEvent): string {
  return `#${e.position} ${e.stream} seq ${e.seq} ${new Date(e.metadata.at).toISOString()} ${e.type} by ${e.metadata.actor} ${JSON.stringify(e.data)}`;
}
