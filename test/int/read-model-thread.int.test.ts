/**
 * What the main thread holds for its read-model thread is bounded: when the thread stops
 * taking live batches (here: a projection holds it), at most `maxInFlightEvents` (plus one
 * batch) wait for it; then it pulls the log from where the live batches stopped, and every
 * event is applied exactly once. Real SQLite files, a real worker thread.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteEventStore } from '../../engine/store/index.js';
import { ReadModels } from '../../projections/index.js';
import { eventually } from '../helpers/eventually.js';
import { posted } from '../helpers/events.js';
import { tempDir } from '../helpers/temp-dir.js';
import { ENTERED, RELEASED, TIMED_OUT, applications, blocking } from '../helpers/thread-projections.js';

const dir = tempDir();
const open: Array<() => unknown> = [];
afterEach(async () => {
  for (const close of open.splice(0).reverse()) await close();
});

describe('the read-model thread falling behind', () => {
  it('holds a bounded number of live events for it, then lets it pull the log: every event applied once', async () => {
    const store = new SqliteEventStore({ file: join(dir.path, 'behind-events.sqlite') });
    open.push(() => store.close());
    const shared = new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT);
    const cells = new Int32Array(shared);
    const models = new ReadModels(store, join(dir.path, 'behind-rm.sqlite'), [blocking(shared), applications], { maxInFlightEvents: 5 });
    open.push(async () => {
      Atomics.store(cells, RELEASED, 1);
      Atomics.notify(cells, RELEASED);
      await models.stop();
      models.close();
    });
    await models.start();

    await store.append('conversation-c', [posted('block')], { expectedVersion: 'any' });
    await eventually(() => expect(Atomics.load(cells, ENTERED)).toBe(1));
    // One live batch per append, while the thread takes none of them.
    for (let i = 0; i < 30; i++) await store.append('conversation-c', [posted(`m${i}`)], { expectedVersion: 'any' });
    expect(models.thread!.inFlightEvents).toBeLessThanOrEqual(6);

    Atomics.store(cells, RELEASED, 1);
    Atomics.notify(cells, RELEASED);
    const head = await store.headPosition();
    await eventually(() => expect(models.checkpointOf('test-applications')).toBe(head), 10_000);
    await models.waitFor(head);
    const rows = models.db.prepare('SELECT position, times FROM test_applications ORDER BY position').all() as Array<{ position: number; times: number }>;
    expect(rows.map((r) => r.position)).toEqual(Array.from({ length: head }, (_, i) => i + 1));
    expect(rows.filter((r) => r.times !== 1)).toEqual([]);
    expect(Atomics.load(cells, TIMED_OUT)).toBe(0);

    // Live again: a new event arrives without pulling.
    await store.append('conversation-c', [posted('later')], { expectedVersion: 'any' });
    await models.waitFor(head + 1);
    expect(models.thread!.inFlightEvents).toBe(0);
  });
});
