/**
 * Replay: `generate` writes a log of well-formed conversation events straight into the
 * store's schema (fast, not durable: it is a fixture) — conversations created, messages
 * posted, and a fraction of those messages deleted again, shaped as the node writes them;
 * `count` reads what a rebuild left in the read models; `scan` is the floor a rebuild is
 * compared with — a raw better-sqlite3 scan of the same table in position order, with
 * JSON.parse of data and metadata when asked; `copy` is the least a history rebuild must
 * do. The rebuild itself is the CLI, run by the scenario as users run it.
 */
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { ProjectionRunner, builtInProjections } from '../../projections/index.js';
import { SqliteEventStore } from '../../engine/store/index.js';
import { progress, serveRequests } from './serve-requests.js';

const WORDS = 'the a meeting lunch deploy review release budget design draft ship fix bug test plan notes call later today tomorrow thanks ok sure agreed blocked done'.split(' ');

/** A message text of about `bytes` characters from a small vocabulary, so search indexes real words. */
function textOf(bytes: number, n: number): string {
  let s = '';
  for (let i = n; s.length < bytes; i = (i * 1103515245 + 12345) & 0x7fffffff) s += `${WORDS[i % WORDS.length]} `;
  return s.slice(0, bytes).trimEnd();
}

/** Deterministic 0 ≤ x < 1 from an integer, so a log is the same for the same knobs. */
function unit(n: number): number {
  const x = Math.sin(n * 12.9898) * 43758.5453;
  return x - Math.floor(x);
}

serveRequests({
  async generate(req) {
    const { dir, events, conversations, textBytes, deleteFraction = 0 } = req as { dir: string; events: number; conversations: number; textBytes: number; deleteFraction?: number };
    const file = join(dir, 'events.sqlite');
    await new SqliteEventStore({ file }).close();
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = OFF');
    const insert = db.prepare('INSERT INTO events (position, stream, seq, id, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)');
    const ids = Array.from({ length: conversations }, () => randomUUID());
    const seqs = new Array<number>(conversations).fill(0);
    // Messages still standing per conversation, so a delete names one that exists.
    const live: string[][] = Array.from({ length: conversations }, () => []);
    const at = Date.now() - 86_400_000;
    let position = 0;
    let posted = 0;
    let deleted = 0;
    const chunk = db.transaction((n: number) => {
      for (let i = 0; i < n; i++) {
        const c = position % conversations;
        const seq = ++seqs[c]!;
        const actor = `u${c}-${seq % 10}`;
        const commandId = randomUUID();
        let type: string;
        let data: Record<string, unknown>;
        let schemaVersion = 1;
        if (seq === 1) {
          type = 'ConversationCreated';
          data = { title: `c${c}`, createdBy: actor, members: Array.from({ length: 10 }, (_, j) => `u${c}-${j}`) };
        } else if (live[c]!.length > 0 && unit(position) < deleteFraction) {
          const pick = Math.floor(unit(position + 0.5) * live[c]!.length);
          const [messageId] = live[c]!.splice(pick, 1);
          type = 'MessageDeleted';
          data = { messageId, deletedBy: actor };
          deleted++;
        } else {
          const messageId = randomUUID();
          live[c]!.push(messageId);
          type = 'MessagePosted';
          data = { messageId, author: actor, text: textOf(textBytes, position), format: 'plain' };
          schemaVersion = 2;
          posted++;
        }
        const metadata = JSON.stringify({ actor, commandId, correlationId: commandId, at: at + position, schemaVersion });
        insert.run(++position, `conversation-${ids[c]}`, seq, randomUUID(), type, JSON.stringify(data), metadata);
      }
    });
    while (position < events) {
      chunk(Math.min(20_000, events - position));
      progress({ generated: position });
    }
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
    return { events: position, posted, deleted };
  },

  /** What a rebuild left: rows of the history and search read models (-1 when a table or column is missing). */
  count(req) {
    const db = new Database(join(req.dir as string, req.file ?? 'readmodels.sqlite'), { readonly: true });
    const rows = (table: string) => {
      try {
        return db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
      } catch {
        return -1;
      }
    };
    const result = {
      messages: rows('messages'),
      deletedMessages: rows('messages WHERE deleted = 1'),
      searchRows: rows('search_messages'),
      conversations: rows('conversations'),
    };
    db.close();
    return result;
  },

  /**
   * The least a history rebuild must do: scan the log, parse each MessagePosted and
   * insert it into a table of the history read model's schema (a tombstone on
   * MessageDeleted), in transactions of `batchSize`, without the projection runner.
   */
  copy(req) {
    const dir: string = req.dir;
    const src = new Database(join(dir, 'events.sqlite'), { readonly: true });
    const db = ProjectionRunner.openDatabase(join(dir, `copy-${Date.now()}.sqlite`));
    builtInProjections().find((p) => p.name === 'history')!.setup(db);
    const insert = db.prepare('INSERT OR IGNORE INTO messages (conversation_id, seq, message_id, author, text, sent_at) VALUES (?, ?, ?, ?, ?, ?)');
    const t0 = performance.now();
    let n = 0;
    let batch: unknown[][] = [];
    // History keeps a tombstone for a deleted message (its seq stays in place), as the projection does.
    const remove = db.prepare("UPDATE messages SET deleted = 1, text = '', reactions = '{}' WHERE message_id = ?");
    const write = db.transaction((rows: unknown[][]) => {
      for (const r of rows) {
        if (r[4] === 'MessageDeleted') {
          remove.run(JSON.parse(r[5] as string).messageId);
          continue;
        }
        if (r[4] !== 'MessagePosted') continue;
        const data = JSON.parse(r[5] as string);
        const meta = JSON.parse(r[6] as string);
        insert.run((r[1] as string).slice('conversation-'.length), r[2], data.messageId, data.author, data.text, meta.at);
      }
    });
    for (const row of src.prepare('SELECT * FROM events ORDER BY position').raw().iterate() as Iterable<unknown[]>) {
      n++;
      batch.push(row);
      if (batch.length === req.batchSize) ((write(batch), (batch = [])));
    }
    write(batch);
    const seconds = (performance.now() - t0) / 1000;
    src.close();
    db.close();
    return { events: n, seconds };
  },

  scan(req) {
    const db = new Database(join(req.dir as string, 'events.sqlite'), { readonly: true });
    const t0 = performance.now();
    let n = 0;
    let bytes = 0;
    for (const row of db.prepare('SELECT * FROM events ORDER BY position').raw().iterate() as Iterable<unknown[]>) {
      n++;
      bytes += (row[5] as string).length;
      if (req.parse) JSON.parse(row[5] as string), JSON.parse(row[6] as string);
    }
    const seconds = (performance.now() - t0) / 1000;
    db.close();
    return { events: n, seconds, bytes };
  },
});
