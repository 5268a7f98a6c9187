/**
 * Append without the network: `direct` drives SqliteEventStore.append from many
 * concurrent writers (one stream each, one append in flight each, with an idempotency
 * record, as the command handler does); `raw` is the limit — better-sqlite3 inserting the
 * same rows (event + idempotency key) in batched transactions, WAL, synchronous=FULL.
 */
import Database from 'better-sqlite3';
import { createHash, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { toNewEvents } from '../../engine/domain/index.js';
import { SqliteEventStore } from '../../engine/store/index.js';
import { wallNow } from './histogram.js';
import { serveRequests } from './serve-requests.js';

function posted(author: string, text: string, commandId: string) {
  return toNewEvents([{ type: 'MessagePosted', data: { messageId: randomUUID(), author, text } }], { actor: author, commandId });
}

const fingerprint = (s: string) => createHash('sha256').update(s).digest('base64url').slice(0, 22);

serveRequests({
  async direct(req) {
    const { dir, writers, warmupMs, durationMs, textBytes } = req as Record<string, any>;
    let batches = 0;
    let batchedAppends = 0;
    const store = new SqliteEventStore({
      file: join(dir, 'events.sqlite'),
      onBatch: (appends) => {
        batches++;
        batchedAppends += appends;
      },
    });
    const text = 'x'.repeat(textBytes);
    const start = wallNow();
    const from = start + warmupMs;
    const to = from + durationMs;
    let events = 0;
    const loops = Array.from({ length: writers as number }, async (_, w) => {
      const stream = `conversation-bench-${w}`;
      const author = `w${w}`;
      let version = 0;
      while (wallNow() < to) {
        const commandId = randomUUID();
        const result = { conversationId: `bench-${w}`, seq: version + 1 };
        const r = await store.append(stream, posted(author, text, commandId), {
          expectedVersion: version,
          idempotency: { key: `${author}:${commandId}`, fingerprint: fingerprint(commandId), result },
        });
        version = r.version;
        const now = wallNow();
        if (now >= from && now < to) events += r.events.length;
      }
    });
    await Promise.all(loops);
    await store.close();
    return { events, seconds: durationMs / 1000, meanBatch: batchedAppends / Math.max(1, batches) };
  },

  raw(req) {
    const { dir, batch, warmupMs, durationMs, textBytes } = req as Record<string, any>;
    const file = join(dir, 'events.sqlite');
    void new SqliteEventStore({ file }).close(); // the very same schema
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    const insert = db.prepare('INSERT INTO events (position, stream, seq, id, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)');
    const insertKey = db.prepare('INSERT INTO idempotency (key, fingerprint, result) VALUES (?, ?, ?)');
    const text = 'x'.repeat(textBytes);
    const versions = new Array<number>(batch).fill(0);
    let position = 0;
    const writeBatch = db.transaction(() => {
      for (let w = 0; w < batch; w++) {
        const author = `w${w}`;
        const commandId = randomUUID();
        const [e] = posted(author, text, commandId);
        const seq = ++versions[w]!;
        insert.run(++position, `conversation-bench-${w}`, seq, e!.id, e!.type, JSON.stringify(e!.data), JSON.stringify(e!.metadata));
        insertKey.run(`${author}:${commandId}`, fingerprint(commandId), JSON.stringify({ conversationId: `bench-${w}`, seq }));
      }
    });
    const start = wallNow();
    const from = start + warmupMs;
    const to = from + durationMs;
    let events = 0;
    for (let now = start; now < to; now = wallNow()) {
      writeBatch();
      if (now >= from) events += batch;
    }
    db.close();
    return { events, seconds: durationMs / 1000 };
  },
});
