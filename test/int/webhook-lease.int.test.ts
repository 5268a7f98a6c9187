/**
 * The webhook delivery lease on a real SQLite log: two leases stand for two nodes. Only
 * one holds it at a time; the other takes it once it ran out, with the cursors the first
 * one wrote; the replaced holder learns it at its next write (the stream version moved)
 * and a node restarted under the same id takes its own lease back at once.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeliveryLease } from '../../engine/node/webhooks/lease.js';
import { readCheckpoint } from '../../engine/node/webhooks/index.js';
import { SqliteEventStore } from '../../engine/store/index.js';
import { tempDir } from '../helpers/temp-dir.js';

const LEASE_MS = 10_000;

describe('webhook delivery lease', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: SqliteEventStore;
  beforeEach(() => {
    dir = tempDir('parley-lease-');
    store = new SqliteEventStore({ file: join(dir.path, 'events.sqlite') });
  });
  afterEach(async () => {
    await store.close();
    dir.remove();
  });

  it('is held by one node at a time and fences the holder it replaced', async () => {
    const t0 = Date.now();
    const a = new DeliveryLease(store, 'node-a', LEASE_MS);
    const b = new DeliveryLease(store, 'node-b', LEASE_MS);
    expect(await a.renew(t0)).toBe(true);
    expect(await b.renew(t0 + 1)).toBe(false);
    a.cursors.set('hook-1', 42);
    expect(await a.renew(t0 + 2)).toBe(true);
    expect((await readCheckpoint(store)).cursors.get('hook-1')).toBe(42);

    // a stops renewing (a crash, a partition): b waits the lease out, then takes it with a's cursors.
    expect(await b.renew(t0 + LEASE_MS - 1)).toBe(false);
    expect(await b.renew(t0 + LEASE_MS + 3)).toBe(true);
    expect(b.cursors.get('hook-1')).toBe(42);

    // a comes back and writes: the version it knew is gone, so it learns it lost the lease.
    a.cursors.set('hook-1', 99);
    expect(await a.renew()).toBe(false);
    expect(a.holding).toBe(false);
    expect((await readCheckpoint(store)).cursors.get('hook-1')).toBe(42);
    expect((await readCheckpoint(store)).nodeId).toBe('node-b');
  });

  it('is taken back at once by the same node after a restart, and handed over at once when released', async () => {
    const first = new DeliveryLease(store, 'node-a', LEASE_MS);
    expect(await first.renew()).toBe(true);
    first.cursors.set('hook-1', 7);
    expect(await first.renew()).toBe(true);
    // The process died; its successor under the same node id does not wait for the lease.
    const restarted = new DeliveryLease(store, 'node-a', LEASE_MS);
    expect(await restarted.renew()).toBe(true);
    expect(restarted.cursors.get('hook-1')).toBe(7);

    const other = new DeliveryLease(store, 'node-b', LEASE_MS);
    expect(await other.renew()).toBe(false);
    await restarted.release();
    expect(await other.renew()).toBe(true);
    expect(other.cursors.get('hook-1')).toBe(7);
  });
});
