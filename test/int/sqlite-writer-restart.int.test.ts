/**
 * The embedded store's writer thread is not a single point of permanent failure: if it
 * dies, appends fail as `StoreUnavailableError` (retryable) for a moment, a new writer is
 * started, appends succeed again, and the live feed carries every event exactly once.
 */
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteEventStore, isStoreUnavailableError, type StoredEvent } from '../../engine/store/index.js';
import { eventually } from '../helpers/eventually.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir('parley-writer-restart-');
afterAll(() => dir.remove());

const event = (id: string) => ({
  id,
  type: 'Note',
  data: { id },
  metadata: { actor: 'system', commandId: id, correlationId: id, at: Date.now(), schemaVersion: 1 },
});

describe('SQLite writer thread', () => {
  it('is restarted after it dies; appends come back and the feed has every event once', async () => {
    const failures: Error[] = [];
    const store = new SqliteEventStore({ file: join(dir.path, 'events.sqlite'), onWriteFailure: (e) => failures.push(e) });
    const fed: StoredEvent[] = [];
    store.subscribe((events) => fed.push(...events));
    try {
      for (let i = 1; i <= 5; i++) await store.append('s', [event(`a${i}`)], { expectedVersion: i - 1 });

      // Kill the thread (as an out-of-memory or a native crash would) with an append in flight.
      /** The store's current writer thread (undefined while one that died waits to restart). */
      const current = () => (store as unknown as { writer: { worker: Worker | undefined } }).writer.worker;
      const writer = current()!;
      const inFlight = store.append('s', [event('lost?')], { expectedVersion: 5 });
      await writer.terminate();
      const outcome = await inFlight.then(
        () => 'committed',
        (err: unknown) => (isStoreUnavailableError(err) ? 'unavailable' : `other: ${String(err)}`),
      );
      // Either it made it before the thread died (and was reported), or it is unavailable: never anything else.
      expect(['committed', 'unavailable']).toContain(outcome);
      expect(failures.length).toBeGreaterThan(0);

      const version = await store.streamVersion('s');
      await expect(store.append('s', [event('meanwhile')], { expectedVersion: version })).rejects.toSatisfy(isStoreUnavailableError);
      // The new writer exists but has not said it is ready: an append now waits for it, and
      // its events reach the feed once (the restart's catch-up of the feed must not repeat them).
      await eventually(() => expect(current() && current() !== writer).toBe(true), 10_000, 1);
      const early = store.append('s', [event('after')], { expectedVersion: version });
      await new Promise((r) => setImmediate(r));
      for (const until = Date.now() + 300; Date.now() < until; ); // hold this thread while the writer starts
      expect((await early).version).toBe(version + 1);
      await store.append('s', [event('after-2')], { expectedVersion: version + 1 });

      const log = await store.readStream('s');
      expect(log.map((e) => e.seq)).toEqual(log.map((_, i) => i + 1));
      expect(fed.map((e) => e.position)).toEqual(log.map((e) => e.position)); // each once, in order
    } finally {
      await store.close();
    }
  }, 30_000);
});
