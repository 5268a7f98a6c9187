/**
 * Projections for tests of the read-model thread. Each has a `source`, so the node's
 * read-model thread loads it from this file: what it does happens on that thread.
 */
import { threadId } from 'node:worker_threads';
import type { Projection } from '../../projections/index.js';

/** Counts how often each event is applied (a crash must leave every count at 1) and on which thread. */
export const applications: Projection = {
  name: 'test-applications',
  source: { module: import.meta.url, export: 'applications' },
  version: 1,
  handles: ['MessagePosted'],
  setup: (db) => db.exec('CREATE TABLE IF NOT EXISTS test_applications (position INTEGER PRIMARY KEY, times INTEGER NOT NULL, thread INTEGER NOT NULL)'),
  truncate: (db) => db.exec('DELETE FROM test_applications'),
  handle(events, db) {
    const upsert = db.prepare('INSERT INTO test_applications VALUES (?, 1, ?) ON CONFLICT (position) DO UPDATE SET times = times + 1');
    for (const e of events) upsert.run(e.position, threadId);
  },
};

/**
 * Cells of the shared memory a blocking projection and its test talk through: the
 * projection sets ENTERED when it starts applying a message "block" and waits until the
 * test sets RELEASED; it sets TIMED_OUT if nobody released it in time.
 */
export const ENTERED = 0;
export const RELEASED = 1;
export const TIMED_OUT = 2;

/** A projection that holds its thread on a message "block" until the test lets it go. */
export function blocking(shared: SharedArrayBuffer): Projection {
  const cells = new Int32Array(shared);
  return {
    name: 'test-blocking',
    source: { module: import.meta.url, export: 'blocking', args: [shared] },
    version: 1,
    handles: ['MessagePosted'],
    setup: () => undefined,
    truncate: () => undefined,
    handle(events) {
      if (!events.some((e) => (e.data as { text?: unknown }).text === 'block')) return;
      Atomics.store(cells, ENTERED, 1);
      Atomics.notify(cells, ENTERED);
      // Bounded, so a projection that (wrongly) runs on the test's own thread cannot hang it for good.
      if (Atomics.wait(cells, RELEASED, 0, 30_000) === 'timed-out') Atomics.store(cells, TIMED_OUT, 1);
    },
  };
}

/**
 * An app's projection without a `source`: it stays on the main thread and writes to the
 * same file as the read-model thread, holding the write lock a little while per batch
 * (many rows), so both writers meet.
 */
export const mainThreadWriter: Projection = {
  name: 'test-main-writer',
  version: 1,
  handles: ['MessagePosted', 'ReactionAdded'],
  setup: (db) => db.exec('CREATE TABLE IF NOT EXISTS test_main_writer (k INTEGER PRIMARY KEY, n INTEGER NOT NULL)'),
  truncate: (db) => db.exec('DELETE FROM test_main_writer'),
  handle(events, db) {
    const bump = db.prepare('INSERT INTO test_main_writer VALUES (?, 1) ON CONFLICT (k) DO UPDATE SET n = n + 1');
    for (const e of events) for (let k = 0; k < 300; k++) bump.run(e.position * 1000 + k);
  },
};

/** Records how many events each call of `handle` got (one call per live transaction), in order. */
export const handleCalls: Projection = {
  name: 'test-handle-calls',
  source: { module: import.meta.url, export: 'handleCalls' },
  version: 1,
  handles: ['MessagePosted'],
  setup: (db) => db.exec('CREATE TABLE IF NOT EXISTS test_handle_calls (call INTEGER PRIMARY KEY AUTOINCREMENT, events INTEGER NOT NULL, last INTEGER NOT NULL)'),
  truncate: (db) => db.exec('DELETE FROM test_handle_calls'),
  handle(events, db) {
    db.prepare('INSERT INTO test_handle_calls (events, last) VALUES (?, ?)').run(events.length, events[events.length - 1]!.position);
  },
};
