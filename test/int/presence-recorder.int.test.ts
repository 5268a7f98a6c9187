/**
 * Presence recording, on a real SQLite store: a user's changes reach the log in the order
 * they happened, `settled()` means they are in it, a change made while the store is
 * unavailable is retried until it is in, the user's next change waiting behind it, and
 * changes made meanwhile coalesce into the user's latest state (one waits, not a queue).
 */
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { PresenceRecorder } from '../../engine/node/presence-recorder.js';
import { SqliteEventStore, StoreUnavailableError, isStoreUnavailableError, userStream, type EventStore } from '../../engine/store/index.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir('parley-presence-');
afterAll(() => dir.remove());

/** A log that keeps what it is told, so a test can say what was reported. */
function warnings() {
  const lines: string[] = [];
  const log = { warn: (_: object, message: string) => void lines.push(message), error: (_: object, message: string) => void lines.push(message) };
  return { log, lines };
}

/** The real store, with each append attempt counted; the first `refuse` attempts are refused as in an outage. */
function counted(store: EventStore, refuse = 0): { store: Pick<EventStore, 'append'>; attempts: () => number } {
  let n = 0;
  return {
    store: {
      append: (...args: Parameters<EventStore['append']>) =>
        ++n <= refuse ? Promise.reject(new StoreUnavailableError('outage (injected)')) : store.append(...args),
    },
    attempts: () => n,
  };
}

const event = (id: string) => ({
  id,
  type: 'Note',
  data: { id },
  metadata: { actor: 'system', commandId: id, correlationId: id, at: Date.now(), schemaVersion: 1 },
});

const types = async (store: EventStore, userId: string) => (await store.readStream(userStream(userId))).map((e) => [e.type, e.data]);

describe('PresenceRecorder', () => {
  it("appends a user's changes in order, and those made while one is recorded coalesce into the latest state", async () => {
    const store = new SqliteEventStore({ file: join(dir.path, 'order.sqlite') });
    const { log, lines } = warnings();
    const on = (userId: string) => ['UserOnline', { userId, nodeId: 'n1' }];
    const off = (userId: string) => ['UserOffline', { userId, nodeId: 'n1' }];
    try {
      const presence = new PresenceRecorder(store, 'n1', log);
      for (let i = 0; i < 5; i++) {
        presence.online('ann');
        presence.offline('ann');
      }
      presence.online('eve');
      presence.offline('eve');
      presence.online('eve'); // cancels the offline waiting behind the first online
      presence.online('bob');
      await presence.settled();
      expect(await types(store, 'ann')).toEqual([on('ann'), off('ann')]);
      expect(await types(store, 'eve')).toEqual([on('eve')]);
      expect(await types(store, 'bob')).toEqual([on('bob')]);
      // Changes apart from each other are each recorded.
      presence.online('ann');
      await presence.settled();
      presence.offline('ann');
      await presence.settled();
      expect(await types(store, 'ann')).toEqual([on('ann'), off('ann'), on('ann'), off('ann')]);
      expect(lines).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('holds one waiting change for a user who reconnects in a loop through an outage', async () => {
    const sqlite = new SqliteEventStore({ file: join(dir.path, 'flapping.sqlite') });
    const { log, lines } = warnings();
    const { store, attempts } = counted(sqlite, 3);
    try {
      const presence = new PresenceRecorder(store, 'n1', log);
      for (let i = 0; i < 10_000; i++) {
        presence.online('fay');
        presence.offline('fay');
      }
      await presence.settled();
      expect(attempts()).toBe(3 + 2); // three refusals of the first change, then the first and the final state
      expect(await types(sqlite, 'fay')).toEqual([
        ['UserOnline', { userId: 'fay', nodeId: 'n1' }],
        ['UserOffline', { userId: 'fay', nodeId: 'n1' }],
      ]);
      expect(lines).toEqual([]);
    } finally {
      await sqlite.close();
    }
  }, 30_000);

  it('retries a refused change, and the change after it waits behind it instead of overtaking it', async () => {
    const sqlite = new SqliteEventStore({ file: join(dir.path, 'refused.sqlite') });
    const { log, lines } = warnings();
    const { store, attempts } = counted(sqlite, 1);
    try {
      const presence = new PresenceRecorder(store, 'n1', log);
      presence.online('dee'); // refused once, retried after a pause
      presence.offline('dee'); // would be in first if it did not wait
      await presence.settled();
      expect(attempts()).toBe(3);
      expect(await types(sqlite, 'dee')).toEqual([
        ['UserOnline', { userId: 'dee', nodeId: 'n1' }],
        ['UserOffline', { userId: 'dee', nodeId: 'n1' }],
      ]);
      expect(lines).toEqual([]);
    } finally {
      await sqlite.close();
    }
  });

  it('retries changes through a real outage (the writer thread restarting)', async () => {
    const sqlite = new SqliteEventStore({ file: join(dir.path, 'outage.sqlite'), onWriteFailure: () => undefined });
    const { log, lines } = warnings();
    const { store, attempts } = counted(sqlite);
    try {
      // A writer that has opened the file is restarted when it dies (one that never did is a start-up failure).
      await sqlite.append('warm-up', [event('w')], { expectedVersion: 'any' });
      // Kill the writer thread: appends fail as unavailable until it is restarted (after a backoff).
      await (sqlite as unknown as { writer: { worker: Worker } }).writer.worker.terminate();
      await expect(sqlite.append('probe', [event('p')], { expectedVersion: 'any' })).rejects.toSatisfy(isStoreUnavailableError);

      const presence = new PresenceRecorder(store, 'n1', log);
      presence.online('cy');
      presence.offline('cy');
      await presence.settled();
      expect(attempts()).toBeGreaterThan(2); // the first change was refused at least once
      expect(await types(sqlite, 'cy')).toEqual([
        ['UserOnline', { userId: 'cy', nodeId: 'n1' }],
        ['UserOffline', { userId: 'cy', nodeId: 'n1' }],
      ]);
      expect(lines).toEqual([]);
    } finally {
      await sqlite.close();
    }
  }, 30_000);
});
