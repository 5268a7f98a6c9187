/**
 * The EventStore port's contract, runnable against any adapter:
 *
 *   describeEventStoreContract('sqlite', async () => ({ open, cleanup }))
 *
 * `open()` returns a store over the same durable data each time it is called, so the
 * restart case can close one and open the next.
 *
 * Whole-log reads go through the log cursor (log-cursor.ts), which every store takes. A
 * partitioned log (N > 1) orders events within a partition only, so the checks of order
 * across streams apply to one-partition stores; the rest holds for every store.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { EventStore, NewEvent, StoredEvent } from '../../engine/store/port.js';
import { isConcurrencyError } from '../../engine/store/errors.js';
import { cursorFor, headCursorOf, partitionsOf, readAllAfter } from '../../engine/store/log-cursor.js';
import { eventually } from '../helpers/eventually.js';

export interface ContractSubject {
  open: () => Promise<EventStore>;
  cleanup: () => Promise<void>;
}

/** A subject whose stores all come from `connect` over the same data; cleanup closes every one opened. */
export function closingEachStore(connect: () => Promise<EventStore>): ContractSubject {
  const opened: EventStore[] = [];
  return {
    open: async () => {
      const store = await connect();
      opened.push(store);
      return store;
    },
    cleanup: async () => {
      await Promise.all(opened.map((s) => s.close()));
    },
  };
}

function ev(type: string, data: unknown = {}): NewEvent {
  return {
    id: randomUUID(),
    type,
    data,
    metadata: { actor: 'alice', commandId: randomUUID(), correlationId: 'c', at: Date.now(), schemaVersion: 1 },
  };
}

export function describeEventStoreContract(name: string, subject: () => Promise<ContractSubject>): void {
  describe(`EventStore contract: ${name}`, () => {
    let s: ContractSubject;
    let store: EventStore;
    let stream: string;

    beforeEach(async () => {
      s = await subject();
      store = await s.open();
      stream = `conversation-${randomUUID()}`;
    });
    afterEach(async () => {
      await store.close();
      await s.cleanup();
    });

    it('assigns dense seqs per stream and monotonic positions across streams', async () => {
      const other = `conversation-${randomUUID()}`;
      const a = await store.append(stream, [ev('A'), ev('B')], { expectedVersion: 0 });
      const b = await store.append(other, [ev('C')], { expectedVersion: 0 });
      const c = await store.append(stream, [ev('D')], { expectedVersion: 2 });
      expect(a.events.map((e) => e.seq)).toEqual([1, 2]);
      expect(b.events.map((e) => e.seq)).toEqual([1]);
      expect(c.events.map((e) => e.seq)).toEqual([3]);
      const positions = [...a.events, ...b.events, ...c.events].map((e) => e.position);
      expect(new Set(positions).size).toBe(4);
      const head = await headCursorOf(store);
      for (const p of positions) expect(head.covers(p)).toBe(true);
      // Within a stream positions always grow; across streams only in a one-partition log.
      const mine = [...a.events, ...c.events].map((e) => e.position);
      expect([...mine].sort((x, y) => x - y)).toEqual(mine);
      if (partitionsOf(store) === 1) {
        expect([...positions].sort((x, y) => x - y)).toEqual(positions);
        expect(await store.headPosition()).toBe(c.events[0]!.position);
      }
    });

    it('rejects a wrong expected version with a ConcurrencyError and appends nothing', async () => {
      await store.append(stream, [ev('A')], { expectedVersion: 0 });
      const err = await store.append(stream, [ev('B')], { expectedVersion: 0 }).catch((e) => e);
      expect(isConcurrencyError(err)).toBe(true);
      expect(err.actual).toBe(1);
      const err2 = await store.append(stream, [ev('B')], { expectedVersion: 5 }).catch((e) => e);
      expect(isConcurrencyError(err2)).toBe(true);
      expect((await store.readStream(stream)).map((e) => e.type)).toEqual(['A']);
    });

    it('records no idempotency key for an append refused with a conflict', async () => {
      await store.append(stream, [ev('A')], { expectedVersion: 0 });
      const key = `refused-${randomUUID()}`;
      const record = { key, fingerprint: 'f1', result: { seq: 2 } };
      const err = await store.append(stream, [ev('B')], { expectedVersion: 0, idempotency: record }).catch((e) => e);
      expect(isConcurrencyError(err)).toBe(true);
      expect(await store.findIdempotency(key)).toBeUndefined();
      const retried = await store.append(stream, [ev('B')], { expectedVersion: 1, idempotency: record });
      expect(retried.duplicate).toBeNull();
      expect((await store.readStream(stream)).map((e) => e.type)).toEqual(['A', 'B']);
    });

    it('lets exactly one of many concurrent appends at the same version win', async () => {
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) => store.append(stream, [ev(`E${i}`)], { expectedVersion: 0 })),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(results.filter((r) => r.status === 'rejected' && isConcurrencyError(r.reason))).toHaveLength(9);
      expect(await store.streamVersion(stream)).toBe(1);
    });

    it('pipelines appends at successive versions', async () => {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.append(stream, [ev(`E${i}`)], { expectedVersion: i })),
      );
      expect(results.map((r) => r.version)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      const read = await store.readStream(stream);
      expect(read.map((e) => e.type)).toEqual(Array.from({ length: 20 }, (_, i) => `E${i}`));
    });

    it('takes down the appends queued behind a failed one on the same stream', async () => {
      await store.append(stream, [ev('A')], { expectedVersion: 0 });
      // As a command handler pipelines them: b decided at version 0 (stale), c on top of b.
      const b = store.append(stream, [ev('B')], { expectedVersion: 0 });
      const c = store.append(stream, [ev('C')], { expectedVersion: 1 });
      const other = store.append(`conversation-${randomUUID()}`, [ev('X')], { expectedVersion: 0 });
      expect(isConcurrencyError(await b.catch((e) => e))).toBe(true);
      expect(isConcurrencyError(await c.catch((e) => e))).toBe(true);
      expect((await other).version).toBe(1);
      expect((await store.readStream(stream)).map((e) => e.type)).toEqual(['A']);
      // Appends made after the failure was known go through.
      expect((await store.append(stream, [ev('D')], { expectedVersion: 1 })).version).toBe(2);
    });

    it('fails exactly the dependent appends behind a conflict, however they are batched', async () => {
      // As a command handler pipelines them, one event-loop turn apart (each its own batch,
      // several on their way to the disk at once): 0-4 in order, 5 decided on a stale
      // version (4), 6-11 on top of 5; `any` appends beside them do not depend on it.
      const appends: Array<Promise<unknown>> = [];
      const loose: Array<Promise<unknown>> = [];
      // Settled below; handled from the start, so an early rejection is not "unhandled".
      const handled = <T,>(p: Promise<T>) => (p.catch(() => undefined), p);
      for (let i = 0; i < 12; i++) {
        appends.push(handled(store.append(stream, [ev(`E${i}`)], { expectedVersion: i <= 5 ? Math.min(i, 4) : i - 1 })));
        if (i % 3 === 0) loose.push(handled(store.append(stream, [], { expectedVersion: 'any' })));
        await new Promise((r) => setImmediate(r));
      }
      const settled = await Promise.allSettled(appends);
      expect(settled.map((r) => r.status)).toEqual([...Array<string>(5).fill('fulfilled'), ...Array<string>(7).fill('rejected')]);
      for (const r of settled.slice(5)) expect(isConcurrencyError((r as PromiseRejectedResult).reason)).toBe(true);
      expect((await Promise.allSettled(loose)).every((r) => r.status === 'fulfilled')).toBe(true);
      expect((await store.readStream(stream)).map((e) => e.type)).toEqual(['E0', 'E1', 'E2', 'E3', 'E4']);
      // Appends made after the failure was known go through.
      expect((await store.append(stream, [ev('F')], { expectedVersion: 5 })).version).toBe(6);
    });

    it('records an idempotency key once and returns the original record on a repeat', async () => {
      const key = `alice:${randomUUID()}`;
      const first = await store.append(stream, [ev('A')], {
        expectedVersion: 0,
        idempotency: { key, fingerprint: 'f1', result: { seq: 1 } },
      });
      expect(first.duplicate).toBeNull();
      const again = await store.append(stream, [ev('A')], {
        expectedVersion: 1,
        idempotency: { key, fingerprint: 'f1', result: { seq: 2 } },
      });
      expect(again.duplicate).toEqual({ key, fingerprint: 'f1', result: { seq: 1 } });
      expect(again.events).toEqual([]);
      expect(await store.streamVersion(stream)).toBe(1);
      expect(await store.findIdempotency(key)).toEqual({ key, fingerprint: 'f1', result: { seq: 1 } });
      expect(await store.findIdempotency(`alice:${randomUUID()}`)).toBeUndefined();
    });

    it('answers an append whose legacy key is recorded as a duplicate, and never records a legacy key', async () => {
      const commandId = randomUUID();
      const legacyKey = `alice:${commandId}`;
      await store.append(stream, [ev('A')], { expectedVersion: 0, idempotency: { key: legacyKey, fingerprint: 'f1', result: { seq: 1 } } });
      const key = `5:alice:${commandId}`;
      const again = await store.append(stream, [ev('A')], {
        expectedVersion: 1,
        idempotency: { key, fingerprint: 'f1', result: { seq: 2 } },
        legacyKey,
      });
      expect(again.duplicate).toMatchObject({ fingerprint: 'f1', result: { seq: 1 } });
      expect(again.events).toEqual([]);
      expect(await store.streamVersion(stream)).toBe(1);
      expect(await store.findIdempotency(key)).toBeUndefined();

      const fresh = randomUUID();
      const first = await store.append(stream, [ev('B')], {
        expectedVersion: 1,
        idempotency: { key: `5:alice:${fresh}`, fingerprint: 'f2', result: { seq: 2 } },
        legacyKey: `alice:${fresh}`,
      });
      expect(first.duplicate).toBeNull();
      expect(await store.findIdempotency(`alice:${fresh}`)).toBeUndefined();
      expect((await store.findIdempotency(`5:alice:${fresh}`))?.result).toEqual({ seq: 2 });
    });

    it('lists every idempotency record once, in UTF-8 byte order of the keys, key-only appends included', async () => {
      const tag = randomUUID();
      // Chosen so UTF-16 order (JavaScript's <) and UTF-8 byte order disagree: U+FF5E < U+1F600 in bytes only.
      const keys = [`${tag}:b`, `${tag}:a`, `${tag}:\u{1F600}`, `${tag}:\uFF5E`, `${tag}:a:2`];
      await store.append(stream, [ev('A')], { expectedVersion: 0, idempotency: { key: keys[0]!, fingerprint: 'f0', result: { seq: 1 } } });
      await store.append(stream, [ev('B'), ev('C')], { expectedVersion: 1, idempotency: { key: keys[1]!, fingerprint: 'f1', result: { seq: 3 } } });
      await store.append(stream, [], { expectedVersion: 'any', idempotency: { key: keys[2]!, fingerprint: 'f2', result: { seq: 3 } } });
      await store.append(`conversation-${randomUUID()}`, [ev('D')], { expectedVersion: 0, idempotency: { key: keys[3]!, fingerprint: 'f3', result: null } });
      await store.append(stream, [ev('E')], { expectedVersion: 3, idempotency: { key: keys[4]!, fingerprint: 'f4', result: { seq: 4 } } });
      // A repeat records nothing new.
      await store.append(stream, [ev('E')], { expectedVersion: 4, idempotency: { key: keys[0]!, fingerprint: 'f0', result: { seq: 5 } } });
      const listed = [];
      for await (const r of store.idempotencyRecords()) if (r.key.startsWith(tag)) listed.push(r);
      const byteOrder = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      expect(byteOrder).not.toEqual([...keys].sort());
      expect(listed.map((r) => r.key)).toEqual(byteOrder);
      expect(listed.find((r) => r.key === keys[0])).toEqual({ key: keys[0], fingerprint: 'f0', result: { seq: 1 } });
      expect(listed.find((r) => r.key === keys[3])).toEqual({ key: keys[3], fingerprint: 'f3', result: null });
    });

    it('reads a stream forwards after a seq and backwards before a seq, bounded by limit', async () => {
      await store.append(stream, Array.from({ length: 10 }, (_, i) => ev(`E${i + 1}`)), { expectedVersion: 0 });
      const fwd = await store.readStream(stream, { afterSeq: 3, limit: 4 });
      expect(fwd.map((e) => e.seq)).toEqual([4, 5, 6, 7]);
      const back = await store.readStream(stream, { beforeSeq: 8, limit: 3 });
      expect(back.map((e) => e.seq)).toEqual([7, 6, 5]);
      expect(await store.readStream(`conversation-${randomUUID()}`)).toEqual([]);
    });

    it('reads all streams in position order from a position (catch-up)', async () => {
      const start = await headCursorOf(store);
      const other = `conversation-${randomUUID()}`;
      await store.append(stream, [ev('A', { n: 1 })], { expectedVersion: 0 });
      await store.append(other, [ev('B', { n: 2 })], { expectedVersion: 0 });
      await store.append(stream, [ev('C', { n: 3 })], { expectedVersion: 1 });
      const all = await readAllAfter(store, start, 100);
      const mine = all.filter((e) => e.stream === stream || e.stream === other);
      expect(mine.filter((e) => e.stream === stream).map((e) => e.type)).toEqual(['A', 'C']);
      expect(mine.filter((e) => e.stream === other).map((e) => e.type)).toEqual(['B']);
      if (partitionsOf(store) === 1) expect(mine.map((e) => e.type)).toEqual(['A', 'B', 'C']);
      expect(mine.find((e) => e.type === 'C')!.data).toEqual({ n: 3 });
      const first = mine.find((e) => e.type === 'A')!;
      const rest = await readAllAfter(store, start.advancedBy([first]), 100);
      expect(rest.filter((e) => e.stream === stream || e.stream === other).map((e) => e.type).sort()).toEqual(['B', 'C']);
      expect((await readAllAfter(store, start, 1)).length).toBe(1);
      if (partitionsOf(store) === 1) {
        // The plain-number form of the same read (today's API) is the same.
        expect((await store.readAll(start.single, 100)).map((e) => e.id)).toEqual(all.map((e) => e.id));
      }
    });

    it('resumes page by page from a stored cursor token without gaps or repeats', async () => {
      const start = await headCursorOf(store);
      const streams = Array.from({ length: 6 }, () => `conversation-${randomUUID()}`);
      const appended: string[] = [];
      for (let round = 0; round < 3; round++) {
        for (const s of streams) appended.push(...(await store.append(s, [ev(`R${round}`)], { expectedVersion: round })).events.map((e) => e.id));
      }
      const read: StoredEvent[] = [];
      let token = start.encode();
      for (let page = 0; page < 40; page++) {
        // What a checkpoint stores and a client hands back: the token, decoded anew.
        const cursor = cursorFor(store, token);
        const events = await readAllAfter(store, cursor, 4);
        if (events.length === 0) break;
        expect(events.length).toBeLessThanOrEqual(4);
        read.push(...events);
        token = cursor.advancedBy(events).encode();
      }
      const mine = read.filter((e) => streams.includes(e.stream));
      expect(mine.map((e) => e.id).sort()).toEqual([...appended].sort());
      for (const s of streams) expect(mine.filter((e) => e.stream === s).map((e) => e.seq)).toEqual([1, 2, 3]);
      expect(cursorFor(store, token).reaches(await headCursorOf(store))).toBe(true);
    });

    it('delivers committed events on the live feed in position order', async () => {
      const seen: StoredEvent[] = [];
      const stop = store.subscribe((events) => seen.push(...events.filter((e) => e.stream === stream)));
      await Promise.all(Array.from({ length: 5 }, (_, i) => store.append(stream, [ev(`E${i}`)], { expectedVersion: i })));
      await eventually(() => expect(seen.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]));
      stop();
      // A listener that stays is the sentinel: once it has the next event, a listener
      // that had not stopped would have it too.
      const witness: StoredEvent[] = [];
      const stopWitness = store.subscribe((events) => witness.push(...events.filter((e) => e.stream === stream)));
      await store.append(stream, [ev('after')], { expectedVersion: 5 });
      await eventually(() => expect(witness.map((e) => e.type)).toEqual(['after']));
      stopWitness();
      expect(seen).toHaveLength(5);
    });

    it('reports a listener that throws and keeps feeding it and the others', async () => {
      const uncaught: unknown[] = [];
      const onUncaught = (err: unknown) => uncaught.push(err);
      process.on('uncaughtException', onUncaught);
      const reported = vi.spyOn(console, 'error').mockImplementation(() => undefined);
      const faulty: number[] = [];
      const good: number[] = [];
      const stopFaulty = store.subscribe((events) => {
        faulty.push(...events.filter((e) => e.stream === stream).map((e) => e.seq));
        throw new Error('a faulty listener');
      });
      const stopGood = store.subscribe((events) => good.push(...events.filter((e) => e.stream === stream).map((e) => e.seq)));
      try {
        await store.append(stream, [ev('one')], { expectedVersion: 0 });
        await store.append(stream, [ev('two')], { expectedVersion: 1 });
        await eventually(() => expect(good).toEqual([1, 2]));
        expect(faulty).toEqual([1, 2]);
        // A microtask or two for a rethrow that must not come.
        await new Promise((r) => setImmediate(r));
        expect(uncaught).toEqual([]);
        expect(reported.mock.calls.some((call) => call.some((a) => a instanceof Error && a.message === 'a faulty listener'))).toBe(true);
      } finally {
        stopFaulty();
        stopGood();
        reported.mockRestore();
        process.off('uncaughtException', onUncaught);
      }
    });

    it('keeps events, versions and idempotency keys across a restart', async () => {
      const key = `bob:${randomUUID()}`;
      await store.append(stream, [ev('A', { text: "'; DROP TABLE events; -- <script>x</script>" })], {
        expectedVersion: 0,
        idempotency: { key, fingerprint: 'f', result: { seq: 1 } },
      });
      await store.close();
      store = await s.open();
      expect(await store.streamVersion(stream)).toBe(1);
      const [e] = await store.readStream(stream);
      expect(e!.data).toEqual({ text: "'; DROP TABLE events; -- <script>x</script>" });
      expect(e!.metadata.actor).toBe('alice');
      expect((await store.findIdempotency(key))?.result).toEqual({ seq: 1 });
      const next = await store.append(stream, [ev('B')], { expectedVersion: 1 });
      expect(next.events[0]!.seq).toBe(2);
    });
  });
}
