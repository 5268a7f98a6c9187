/**
 * The EventStoreDB adapter's per-stream append queue: one append per stream in flight,
 * the port's take-down of dependent appends, its bound. Each append's outcome is decided
 * by the test (a deferred it settles), so the order of events is the test's, not a clock's.
 */
import { describe, expect, it } from 'vitest';
import { ConcurrencyError, isConcurrencyError, isStoreUnavailableError, type ExpectedVersion } from '../../engine/store/index.js';
import { AppendQueue } from '../../engine/store/eventstoredb/index.js';

interface Result {
  version: number;
  duplicate: boolean;
}

function deferred() {
  let resolve!: (r: Result) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<Result>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

function queue(max = 100) {
  const started: string[] = [];
  const q = new AppendQueue<Result>(max, (r) => r.duplicate, (_s, cause) => (cause instanceof ConcurrencyError ? cause.actual : 7));
  const add = (stream: string, name: string, expected: ExpectedVersion) => {
    const d = deferred();
    const p = q.enqueue(stream, { expected, run: () => (started.push(name), d.promise) });
    p.catch(() => undefined);
    return { d, p };
  };
  return { q, add, started };
}

const settled = () => new Promise((r) => setImmediate(r));

describe('AppendQueue', () => {
  it('runs one append per stream at a time, in order, and streams side by side', async () => {
    const { add, started } = queue();
    const a1 = add('a', 'a1', 0);
    const a2 = add('a', 'a2', 1);
    const b1 = add('b', 'b1', 0);
    await settled();
    expect(started).toEqual(['a1', 'b1']);
    a1.d.resolve({ version: 1, duplicate: false });
    await a1.p;
    await settled();
    expect(started).toEqual(['a1', 'b1', 'a2']);
    a2.d.resolve({ version: 2, duplicate: false });
    b1.d.resolve({ version: 1, duplicate: false });
    expect((await a2.p).version).toBe(2);
    expect((await b1.p).version).toBe(1);
  });

  it('takes down the numeric appends queued behind a failure, keeps `any` ones, and runs later ones', async () => {
    const { q, add, started } = queue();
    const failing = add('s', 'bad', 0);
    const dependent = add('s', 'dep', 1);
    const loose = add('s', 'loose', 'any');
    const other = add('t', 'other', 0);
    await settled();
    failing.d.reject(new ConcurrencyError('s', 0, 4));
    expect(isConcurrencyError(await failing.p.catch((e) => e))).toBe(true);
    const err = await dependent.p.catch((e) => e);
    expect(isConcurrencyError(err)).toBe(true);
    expect(err).toMatchObject({ stream: 's', expected: 1, actual: 4 });
    await settled();
    expect(started).toContain('loose');
    expect(started).not.toContain('dep');
    loose.d.resolve({ version: 4, duplicate: false });
    other.d.resolve({ version: 1, duplicate: false });
    await loose.p;
    await other.p;
    const later = add('s', 'later', 4);
    await settled();
    later.d.resolve({ version: 5, duplicate: false });
    expect((await later.p).version).toBe(5);
    expect(q.size).toBe(0);
  });

  it('treats a duplicate as a failure for the appends behind it', async () => {
    const { add } = queue();
    const dup = add('s', 'dup', 3);
    const behind = add('s', 'behind', 4);
    await settled();
    dup.d.resolve({ version: 3, duplicate: true });
    expect((await dup.p).duplicate).toBe(true);
    expect(await behind.p.catch((e) => e)).toMatchObject({ expected: 4, actual: 7 });
  });

  it('turns a synchronous throw of an append into its rejection', async () => {
    const q = new AppendQueue<Result>(10, () => false, () => 0);
    const p = q.enqueue('s', {
      expected: 0,
      run: () => {
        throw new Error('boom');
      },
    });
    await expect(p).rejects.toThrow('boom');
    expect(q.size).toBe(0);
  });

  it('refuses appends past its bound with StoreUnavailableError, and takes them again once drained', async () => {
    const { q, add } = queue(2);
    const first = add('s', '1', 0);
    add('s', '2', 1);
    const refused = await q.enqueue('u', { expected: 0, run: async () => ({ version: 1, duplicate: false }) }).catch((e) => e);
    expect(isStoreUnavailableError(refused)).toBe(true);
    await settled();
    first.d.reject(new Error('down'));
    await first.p.catch(() => undefined);
    await settled();
    expect(q.size).toBe(0);
    expect((await q.enqueue('u', { expected: 0, run: async () => ({ version: 1, duplicate: false }) })).version).toBe(1);
  });

  it('rejects what waits when the store closes', async () => {
    const { q, add } = queue();
    const running = add('s', 'running', 0);
    const waiting = add('s', 'waiting', 'any');
    await settled();
    q.rejectAll(new Error('closed'));
    await expect(waiting.p).rejects.toThrow('closed');
    running.d.resolve({ version: 1, duplicate: false });
    await running.p;
    await settled();
    expect(q.size).toBe(0);
  });
});
