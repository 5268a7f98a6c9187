/**
 * Replay: `generate` writes a log of well-formed conversation events straight into the
 * store's schema (fast, not durable: it is a fixture); `rebuild` replays it into the
 * history read model the way `parley rebuild history` does; `scan` is the limit — a raw
 * better-sqlite3 scan of the same table in position order.
 */
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { ProjectionRunner, builtInProjections } from '../../projections/index.js';
import { SqliteEventStore } from '../../engine/store/index.js';
import { progress, serveRequests } from './serve-requests.js';

serveRequests({
  async generate(req) {
    const { dir, events, conversations, textBytes } = req as { dir: string; events: number; conversations: number; textBytes: number };
    const file = join(dir, 'events.sqlite');
    await new SqliteEventStore({ file }).close();
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = OFF');
    const insert = db.prepare('INSERT INTO events (position, stream, seq, id, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)');
    const ids = Array.from({ length: conversations }, () => randomUUID());
    const seqs = new Array<number>(conversations).fill(0);
    const text = 'x'.repeat(textBytes);
    const at = Date.now() - 86_400_000;
    let position = 0;
    const chunk = db.transaction((n: number) => {
      for (let i = 0; i < n; i++) {
        const c = position % conversations;
        const seq = ++seqs[c]!;
        const actor = `u${c}-${seq % 10}`;
        const commandId = randomUUID();
        const metadata = JSON.stringify({ actor, commandId, correlationId: commandId, at: at + position, schemaVersion: 1 });
        const [type, data] =
          seq === 1
            ? ['ConversationCreated', { title: `c${c}`, createdBy: actor, members: Array.from({ length: 10 }, (_, j) => `u${c}-${j}`) }]
            : ['MessagePosted', { messageId: randomUUID(), author: actor, text }];
        insert.run(++position, `conversation-${ids[c]}`, seq, randomUUID(), type, JSON.stringify(data), metadata);
      }
    });
    while (position < events) {
      chunk(Math.min(20_000, events - position));
      progress({ generated: position });
    }
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
    return { events: position };
  },

  async rebuild(req) {
    const dir: string = req.dir;
    const store = new SqliteEventStore({ file: join(dir, 'events.sqlite') });
    const db = ProjectionRunner.openDatabase(join(dir, `readmodels-${Date.now()}.sqlite`));
    const runner = new ProjectionRunner(store, db, builtInProjections().filter((p) => p.name === 'history'), { batchSize: 5000 });
    const head = await store.headPosition();
    const t0 = performance.now();
    let last = 0;
    await runner.rebuild(['history'], (_, position) => {
      if (position - last >= 100_000) progress({ rebuilt: (last = position) });
    });
    const seconds = (performance.now() - t0) / 1000;
    const rows = db.prepare('SELECT count(*) FROM messages').pluck().get() as number;
    db.close();
    await store.close();
    return { events: head, seconds, messages: rows };
  },

  /**
   * The limit for a rebuild that must write: scan the log, parse each MessagePosted and
   * insert it into a table of the history read model's schema, in transactions of
   * `batchSize`, without the projection runner around it.
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
    const write = db.transaction((rows: unknown[][]) => {
      for (const r of rows) {
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
