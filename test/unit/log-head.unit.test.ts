/**
 * LogHead: a caller always gets a head read after its call, and however many callers come,
 * the store has at most one head request in flight and one queued behind it. A refusal's
 * last check (caughtUpWithLog) answers `unavailable` when the membership read model is
 * stopped below the head, instead of letting its stale rows refuse a member.
 */
import { describe, expect, it } from 'vitest';
import { caughtUpWithLog, LogHead } from '../../engine/node/log-head.js';
import { MEMBERSHIP_READ_MODEL } from '../../projections/index.js';
import { LogCursor } from '../../engine/store/index.js';

/** A store whose head requests the test answers one by one, recording when each was made. */
function manualStore() {
  const pending: Array<(head: number) => void> = [];
  let head = 0;
  let requests = 0;
  return {
    fetchHead: () =>
      new Promise<number>((resolve) => {
        requests++;
        const readAt = head; // the head as the request reads it
        pending.push(() => resolve(readAt));
      }),
    write: () => ++head,
    answerNext: () => pending.shift()!(0),
    get requests() {
      return requests;
    },
    get waiting() {
      return pending.length;
    },
  };
}

describe('LogHead', () => {
  it('gives a caller that arrives during a fetch the next fetch, shared with every other such caller', async () => {
    const store = manualStore();
    const head = new LogHead(store.fetchHead);
    const first = head.latest(); // reads head 0
    store.write(); // another node writes: head 1
    const late = Array.from({ length: 100 }, () => head.latest());
    expect(store.requests).toBe(1);
    store.answerNext();
    expect(await first).toBe(0);
    await new Promise((r) => setImmediate(r));
    expect(store.requests).toBe(2); // one more, for all 100
    store.answerNext();
    expect(await Promise.all(late)).toEqual(late.map(() => 1));
    expect(store.waiting).toBe(0);
  });

  it('starts afresh once nothing is in flight, and a failed fetch fails only its own callers', async () => {
    let calls = 0;
    const head = new LogHead(async () => {
      calls++;
      if (calls === 1) throw new Error('store unavailable');
      return calls * 10;
    });
    await expect(head.latest()).rejects.toThrow('store unavailable');
    expect(await head.latest()).toBe(20);
    expect(await head.latest()).toBe(30);
  });
});

describe('caughtUpWithLog', () => {
  it('waits for the head it read, and says unavailable when the membership read model is stopped below it', async () => {
    const waited: string[] = [];
    const checkpoints = new Map([[MEMBERSHIP_READ_MODEL, LogCursor.at(10)]]);
    const runner = {
      waitForCursor: async (cursor: LogCursor) => void waited.push(cursor.encode()),
      cursorOf: (name: string) => checkpoints.get(name) ?? LogCursor.start(1),
    };
    const check = caughtUpWithLog(new LogHead(async () => LogCursor.at(10)), runner);
    await expect(check()).resolves.toBeUndefined();
    expect(waited).toEqual(['10']);
    checkpoints.set(MEMBERSHIP_READ_MODEL, LogCursor.at(7)); // stopped on a failure: waitFor does not wait for it
    await expect(check()).rejects.toMatchObject({ code: 'unavailable' });
  });

  it('on a partitioned log, waits for every partition of the head and refuses while membership lacks any', async () => {
    const head = LogCursor.start(3).advancedBy([{ position: 30 }, { position: 31 }, { position: 32 }]);
    let membership = head;
    const runner = { waitForCursor: async () => undefined, cursorOf: () => membership };
    const check = caughtUpWithLog(new LogHead(async () => head), runner);
    await expect(check()).resolves.toBeUndefined();
    membership = LogCursor.start(3).advancedBy([{ position: 30 }, { position: 31 }, { position: 29 }]);
    await expect(check()).rejects.toMatchObject({ code: 'unavailable' });
  });
});
