/**
 * Under load, live batches go to the read-model thread gathered (at most one message and
 * one transaction per `liveIntervalMs`), yet a reader never waits for the interval: a
 * reader that waits sends what is gathered at once, and batches that come while one waits
 * go at once too. The interval here is a minute, so only the reader can have sent them.
 * Real SQLite files, a real worker thread.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteEventStore } from '../../engine/store/index.js';
import { ReadModels } from '../../projections/index.js';
import { posted } from '../helpers/events.js';
import { tempDir } from '../helpers/temp-dir.js';
import { handleCalls } from '../helpers/thread-projections.js';

const dir = tempDir();
const open: Array<() => unknown> = [];
afterEach(async () => {
  for (const close of open.splice(0).reverse()) await close();
});

const calls = (models: ReadModels) =>
  models.db.prepare('SELECT events, last FROM test_handle_calls ORDER BY call').all() as Array<{ events: number; last: number }>;

describe('live batches for the read-model thread', () => {
  it('are gathered into one transaction, and a waiting reader gets them without waiting for the interval', async () => {
    const store = new SqliteEventStore({ file: join(dir.path, 'gather-events.sqlite') });
    open.push(() => store.close());
    const models = new ReadModels(store, join(dir.path, 'gather-rm.sqlite'), [handleCalls], { liveIntervalMs: 60_000 });
    open.push(async () => {
      await models.stop();
      models.close();
    });
    await models.start();

    // The first batch after a quiet spell goes at once.
    await store.append('conversation-c', [posted('first')], { expectedVersion: 'any' });
    await models.waitFor(1);
    // The next 20, one commit each, are gathered while nobody reads.
    for (let i = 0; i < 20; i++) await store.append('conversation-c', [posted(`m${i}`)], { expectedVersion: 'any' });
    expect(models.checkpointOf('test-handle-calls')).toBe(1);
    await models.waitFor(21, 2000);
    expect(calls(models)).toEqual([
      { events: 1, last: 1 },
      { events: 20, last: 21 },
    ]);

    // A batch that commits while a reader waits for it goes at once.
    const read = models.waitFor(22, 2000);
    await store.append('conversation-c', [posted('awaited')], { expectedVersion: 'any' });
    await read;
    expect(calls(models).at(-1)).toEqual({ events: 1, last: 22 });
  });
});
