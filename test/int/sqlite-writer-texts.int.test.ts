/**
 * The writer thread stores each event's data and metadata, and each idempotency result, as
 * the JSON text the main thread serialized (it no longer parses and re-serializes them):
 * the stored bytes must be exactly JSON.stringify of what was appended, and every text must
 * land on its own row when a batch mixes appends of several events, appends without a key
 * and a duplicate that stores nothing.
 *
 * A second connection holding the write lock makes all the appends below one batch.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteEventStore, type NewEvent } from '../../engine/store/index.js';
import { tempDir } from '../helpers/temp-dir.js';

/** Data whose JSON text is not what a naive re-encoding would give: key order, escapes, -0, a Date. */
const awkwardData = (id: string) => ({
  id,
  b: 1,
  a: 'quote " backslash \\ newline \n tab \t lone surrogate \ud800 emoji 😀',
  10: 'integer-like key',
  nested: { z: [1, 2.5, -0, 1e21, null, true], skipped: undefined },
  when: new Date(Date.UTC(2026, 10, 30)),
});

const event = (id: string): NewEvent => ({
  id,
  type: 'Note',
  data: awkwardData(id),
  metadata: { actor: `actor-${id}`, commandId: id, correlationId: `c-${id}`, at: 1_796_070_542_785, schemaVersion: 2 },
});

describe('SQLite writer thread, stored texts', () => {
  let dir: ReturnType<typeof tempDir>;
  let file: string;
  let store: SqliteEventStore;

  beforeEach(async () => {
    dir = tempDir('parley-writer-texts-');
    file = join(dir.path, 'events.sqlite');
    store = new SqliteEventStore({ file });
    await store.append('conversation-dup', [event('first')], { expectedVersion: 0, idempotency: { key: 'k-dup', fingerprint: 'f0', result: { seq: 1 } } });
  });
  afterEach(async () => {
    await store.close();
    dir.remove();
  });

  it('stores data, metadata and results byte for byte, each on its own row', async () => {
    const lock = new Database(file);
    lock.exec('BEGIN IMMEDIATE');
    const appends: Array<{ stream: string; events: NewEvent[]; key?: string; result?: unknown }> = [
      { stream: 'conversation-a', events: [event('a1'), event('a2')], key: 'k-a', result: { conversationId: 'a', seq: 2, note: 'é "x"' } },
      { stream: 'conversation-dup', events: [event('dup')], key: 'k-dup', result: { seq: 99 } },
      { stream: 'conversation-b', events: [event('b1')] },
      { stream: 'conversation-c', events: [event('c1'), event('c2'), event('c3')], key: 'k-c', result: [1, 'two', { three: 3 }] },
    ];
    const answers = appends.map((a) =>
      store.append(a.stream, a.events, {
        expectedVersion: a.stream === 'conversation-dup' ? 1 : 0,
        ...(a.key ? { idempotency: { key: a.key, fingerprint: `f-${a.key}`, result: a.result } } : {}),
      }),
    );
    lock.exec('COMMIT');
    lock.close();
    const results = await Promise.all(answers);
    expect(results.map((r) => r.duplicate !== null)).toEqual([false, true, false, false]);

    const db = new Database(file, { readonly: true });
    try {
      const rows = db.prepare('SELECT id, data, metadata FROM events WHERE id != ? ORDER BY position').all('first') as Array<{ id: string; data: string; metadata: string }>;
      const stored = appends.filter((a) => a.stream !== 'conversation-dup').flatMap((a) => a.events);
      expect(rows).toEqual(stored.map((e) => ({ id: e.id, data: JSON.stringify(e.data), metadata: JSON.stringify(e.metadata) })));
      const keys = db.prepare('SELECT key, fingerprint, result FROM idempotency ORDER BY key').all();
      expect(keys).toEqual([
        { key: 'k-a', fingerprint: 'f-k-a', result: JSON.stringify(appends[0]!.result) },
        { key: 'k-c', fingerprint: 'f-k-c', result: JSON.stringify(appends[3]!.result) },
        { key: 'k-dup', fingerprint: 'f0', result: JSON.stringify({ seq: 1 }) },
      ]);
    } finally {
      db.close();
    }
  });

  it('rejects an event whose data JSON cannot hold (undefined) alone, before the writer sees it', async () => {
    // It used to reach the writer and fail its NOT NULL column, rolling back every batch of
    // that transaction with it.
    const bad = store.append('conversation-u', [{ ...event('u1'), data: undefined }], { expectedVersion: 0 });
    const good = store.append('conversation-v', [event('v1')], { expectedVersion: 0 });
    await expect(bad).rejects.toThrow(/cannot be stored as JSON/);
    expect((await good).version).toBe(1);
    expect(await store.streamVersion('conversation-u')).toBe(0);
  });
});
