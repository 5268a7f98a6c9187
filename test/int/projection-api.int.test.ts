/** The public projection API: typed SQLite projections, versions, rebuilds, external (at-least-once) projections. */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteEventStore, type NewEvent, type StoredEvent } from '../../engine/store/index.js';
import { ProjectionRunner, defineExternalProjection, defineProjection } from '../../projections/index.js';
import { eventually } from '../helpers/eventually.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir();
const open: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

function posted(text: string, author = 'alice'): NewEvent {
  return {
    id: randomUUID(),
    type: 'MessagePosted',
    data: { messageId: randomUUID(), author, text, format: 'plain' },
    metadata: { actor: author, commandId: randomUUID(), correlationId: 'c', at: Date.now(), schemaVersion: 2 },
  };
}

const wordCount = (version: number) =>
  defineProjection({
    name: 'word-count',
    version,
    handles: ['MessagePosted', 'MessageDeleted'],
    setup: (db) => db.exec('CREATE TABLE IF NOT EXISTS words (author TEXT PRIMARY KEY, n INTEGER NOT NULL)'),
    truncate: (db) => db.exec('DELETE FROM words'),
    handle(events, db) {
      const add = db.prepare('INSERT INTO words VALUES (?, ?) ON CONFLICT DO UPDATE SET n = n + excluded.n');
      for (const e of events) {
        // `e.data` is typed per event type: text exists only on MessagePosted.
        if (e.type === 'MessagePosted') add.run(e.data.author, e.data.text.split(' ').length);
      }
    },
  });

function setup(name: string) {
  const store = new SqliteEventStore({ file: join(dir.path, `${name}-events.sqlite`) });
  const db = ProjectionRunner.openDatabase(join(dir.path, `${name}-rm.sqlite`));
  open.push(store, db);
  return { store, db };
}

const words = (db: ReturnType<typeof setup>['db']) => db.prepare('SELECT author, n FROM words ORDER BY author').all();

describe('projection API', () => {
  it('runs a typed SQLite projection, rebuilds it on a version bump, and never double-counts', async () => {
    const { store, db } = setup('typed');
    await store.append('conversation-a', [posted('one two three'), posted('four', 'bob')], { expectedVersion: 0 });
    const runner = new ProjectionRunner(store, db, [wordCount(1)]);
    await runner.start();
    expect(words(db)).toEqual([{ author: 'alice', n: 3 }, { author: 'bob', n: 1 }]);
    await store.append('conversation-a', [posted('five six')], { expectedVersion: 2 });
    // Live batches are applied just after the ack; readers wait for the position they need.
    await runner.waitFor(await store.headPosition());
    expect(words(db)).toEqual([{ author: 'alice', n: 5 }, { author: 'bob', n: 1 }]);
    await runner.stop();

    // Same version: resumes from its checkpoint. New version: truncated and rebuilt.
    const again = new ProjectionRunner(store, db, [wordCount(1)]);
    await again.start();
    expect(words(db)).toEqual([{ author: 'alice', n: 5 }, { author: 'bob', n: 1 }]);
    await again.stop();
    const bumped = new ProjectionRunner(store, db, [wordCount(2)]);
    await bumped.start();
    expect(words(db)).toEqual([{ author: 'alice', n: 5 }, { author: 'bob', n: 1 }]);
    expect(bumped.versionOf('word-count')).toBe(2);
    await bumped.stop();
  });

  it('does not let live events and a rebuild of the same projection overlap', async () => {
    const { store, db } = setup('overlap');
    await store.append('conversation-b', Array.from({ length: 500 }, () => posted('a b')), { expectedVersion: 0 });
    const runner = new ProjectionRunner(store, db, [wordCount(1)], { batchSize: 50 });
    await runner.start();
    const rebuilding = runner.rebuild(['word-count']);
    await expect(runner.rebuild(['word-count'])).rejects.toThrow(/already rebuilding/);
    const live = Promise.all(Array.from({ length: 50 }, (_, i) => store.append('conversation-b', [posted('c')], { expectedVersion: 500 + i })));
    await Promise.all([rebuilding, live]);
    await runner.waitFor(await store.headPosition());
    expect(words(db)).toEqual([{ author: 'alice', n: 500 * 2 + 50 }]);
    await runner.stop();
  });

  it('delivers to external projections at least once, resumes from their checkpoint, and retries failures', async () => {
    const { store, db } = setup('external');
    const seen = new Map<number, string>();
    let failOnce = true;
    let truncated = 0;
    const sink = (version: number) =>
      defineExternalProjection({
        name: 'warehouse',
        version,
        handles: ['MessagePosted'],
        async handle(events: StoredEvent[]) {
          if (failOnce) {
            failOnce = false;
            throw new Error('warehouse unreachable');
          }
          for (const e of events) seen.set(e.position, (e.data as { text: string }).text); // idempotent upsert by position
        },
        async truncate() {
          truncated += 1;
          seen.clear();
        },
      });
    await store.append('conversation-c', [posted('x'), posted('y')], { expectedVersion: 0 });
    const errors: unknown[] = [];
    const runner = new ProjectionRunner(store, db, [sink(1)], { onError: (_name, err) => errors.push(err) });
    await runner.start();
    await eventually(() => expect([...seen.values()]).toEqual(['x', 'y']));
    expect(errors).toHaveLength(1);
    await store.append('conversation-c', [posted('z')], { expectedVersion: 2 });
    await eventually(() => expect([...seen.values()]).toEqual(['x', 'y', 'z']));
    await runner.stop();
    expect(runner.checkpointOf('warehouse')).toBe(await store.headPosition());

    seen.clear();
    const resumed = new ProjectionRunner(store, db, [sink(1)]);
    await resumed.start();
    await store.append('conversation-c', [posted('w')], { expectedVersion: 3 });
    await eventually(() => expect([...seen.values()]).toEqual(['w']));
    await resumed.stop();

    const bumped = new ProjectionRunner(store, db, [sink(2)]);
    await bumped.start();
    await eventually(() => expect([...seen.values()]).toEqual(['x', 'y', 'z', 'w']));
    expect(truncated).toBe(1);
    await bumped.rebuild(['warehouse']);
    expect(truncated).toBe(2);
    expect([...seen.values()]).toEqual(['x', 'y', 'z', 'w']);
    await bumped.stop();
  });
});
