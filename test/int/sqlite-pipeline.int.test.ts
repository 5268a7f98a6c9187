/**
 * The embedded store sends the next batch to its writer while earlier ones are still
 * being committed, so the writer can start the next transaction as soon as an fsync
 * returns. That must not change what an append means: an append decided on top of one
 * that fails, sent before that failure was known, fails too; a repeated key sent before
 * its first use was committed is still a duplicate.
 *
 * A second connection holding the write lock keeps the writer from committing, so every
 * batch below is sent before any is answered, whatever the machine's speed.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteEventStore, isConcurrencyError } from '../../engine/store/index.js';
import { tempDir } from '../helpers/temp-dir.js';

const event = (id: string) => ({
  id,
  type: 'Note',
  data: { id },
  metadata: { actor: 'system', commandId: id, correlationId: id, at: Date.now(), schemaVersion: 1 },
});

const nextTurn = () => new Promise((r) => setImmediate(r));
/** Batches sent to the writer and not answered yet (the store's group commit's own bookkeeping). */
const batchesInFlight = (store: SqliteEventStore) => (store as unknown as { commits: { inFlight: unknown[] } }).commits.inFlight.length;

describe('SQLite store with batches in flight', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: SqliteEventStore;
  let lock: Database.Database;

  beforeEach(async () => {
    dir = tempDir('parley-pipeline-');
    const file = join(dir.path, 'events.sqlite');
    store = new SqliteEventStore({ file });
    await store.append('warm-up', [event('w')], { expectedVersion: 0 }); // the writer is ready
    lock = new Database(file);
    lock.exec('BEGIN IMMEDIATE');
  });
  afterEach(async () => {
    if (lock.inTransaction) lock.exec('ROLLBACK');
    lock.close();
    await store.close();
    dir.remove();
  });

  it('fails the dependent appends sent behind a conflict before it was known, and no others', async () => {
    const s = 'conversation-a';
    // One per event-loop turn, so one per batch, both on their way before either is
    // answered: a0 decided on a version the stream does not have, a1 behind it (its
    // expected version happens to be right, but it was decided on top of a0).
    const a0 = store.append(s, [event('a0')], { expectedVersion: 1 });
    await nextTurn();
    const a1 = store.append(s, [event('a1')], { expectedVersion: 0 });
    await nextTurn();
    expect(batchesInFlight(store)).toBe(2);
    // Queued here meanwhile: behind the failure too, and an append that depends on nothing.
    const a2 = store.append(s, [event('a2')], { expectedVersion: 1 });
    const loose = store.append(s, [event('x')], { expectedVersion: 'any' });
    lock.exec('COMMIT');
    const [r0, r1, r2, rLoose] = await Promise.allSettled([a0, a1, a2, loose]);
    for (const r of [r0, r1, r2]) expect(r.status === 'rejected' && isConcurrencyError(r.reason)).toBe(true);
    expect(rLoose).toMatchObject({ status: 'fulfilled', value: { version: 1 } });
    expect((await store.readStream(s)).map((e) => e.id)).toEqual(['x']);
    // Appends made after the failure was known go through.
    expect((await store.append(s, [event('b')], { expectedVersion: 1 })).version).toBe(2);
  });

  it('fails an append queued behind a conflict even when it goes to the writer before the conflict is settled', async () => {
    const s = 'conversation-c';
    // A batch of eight: large enough that no second batch follows it before it is answered.
    const c0 = store.append(s, [event('c0')], { expectedVersion: 1 });
    const others = Array.from({ length: 7 }, (_, i) => store.append(`other-${i}`, [event(`o${i}`)], { expectedVersion: 0 }));
    await nextTurn();
    expect(batchesInFlight(store)).toBe(1);
    // Queued while c0 is committed. The next batch leaves as soon as c0's answer arrives,
    // before c0's conflict is settled here: c1's expected version happens to be right, but it
    // was decided on top of c0, so the writer must fail it as this thread would have.
    const c1 = store.append(s, [event('c1')], { expectedVersion: 0 });
    const loose = store.append(s, [event('y')], { expectedVersion: 'any' });
    lock.exec('COMMIT');
    expect(batchesInFlight(store)).toBe(1); // c1 and loose still wait here
    const [r0, r1, rLoose] = await Promise.allSettled([c0, c1, loose]);
    for (const r of [r0, r1]) expect(r.status === 'rejected' && isConcurrencyError(r.reason)).toBe(true);
    for (const o of await Promise.all(others)) expect(o.version).toBe(1);
    expect(rLoose).toMatchObject({ status: 'fulfilled', value: { version: 1 } });
    expect((await store.readStream(s)).map((e) => e.id)).toEqual(['y']);
  });

  it('rejects an append JSON cannot hold and commits the rest of its batch', async () => {
    lock.exec('COMMIT');
    const bad = store.append('conversation-d', [{ ...event('d1'), data: { n: 1n } }], { expectedVersion: 0 });
    const good = store.append('conversation-e', [event('e1')], { expectedVersion: 0 });
    await expect(bad).rejects.toThrow(/cannot be stored as JSON/);
    expect((await good).version).toBe(1);
    expect(await store.streamVersion('conversation-d')).toBe(0);
  });

  it('answers a key repeated before its first use was committed as a duplicate', async () => {
    const idempotency = { key: 'k1', fingerprint: 'f', result: { first: true } };
    const first = store.append('conversation-b', [event('b1')], { expectedVersion: 0, idempotency });
    await nextTurn();
    const again = store.append('conversation-c', [event('c1')], { expectedVersion: 0, idempotency: { ...idempotency, result: { first: false } } });
    await nextTurn();
    expect(batchesInFlight(store)).toBe(2);
    lock.exec('COMMIT');
    expect((await first).duplicate).toBeNull();
    expect((await again).duplicate).toEqual({ key: 'k1', fingerprint: 'f', result: { first: true } });
    expect(await store.streamVersion('conversation-c')).toBe(0);
  });
});
