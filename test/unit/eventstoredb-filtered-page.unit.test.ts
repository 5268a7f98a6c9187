/**
 * When a server-filtered page of `$all` is done (engine/store/eventstoredb/filtered-page.ts),
 * as pure functions over the signals a filtered catch-up subscription sends: events,
 * checkpoints, caughtUp. The subscription itself needs a server (none can run here: see
 * test/contract/eventstoredb.int.test.ts, which also gives up on one against a silent socket).
 */
import { describe, expect, it } from 'vitest';
import {
  PAGE_START,
  SignalOrder,
  needsPage,
  pagePrefixes,
  pageStart,
  pageStep,
  resumeAfter,
  startAfter,
  type EsPosition,
  type PageBounds,
  type PageEnd,
  type PageSignal,
} from '../../engine/store/eventstoredb/index.js';

const at = (commit: number, prepare = commit): EsPosition => ({ commit: BigInt(commit), prepare: BigInt(prepare) });
const ev = (position: EsPosition, wanted = true): PageSignal => ({ kind: 'event', position, wanted });
const checkpoint = (position: EsPosition): PageSignal => ({ kind: 'checkpoint', position });
const caughtUp: PageSignal = { kind: 'caught-up' };

/** Runs signals through the decision: the positions taken, and why the page ended (undefined: still open). */
function run(bounds: PageBounds, signals: PageSignal[]): { taken: EsPosition[]; end: PageEnd | undefined } {
  let progress = PAGE_START;
  const taken: EsPosition[] = [];
  for (const s of signals) {
    const step = pageStep(bounds, progress, s);
    progress = step.progress;
    if (step.take && s.kind === 'event') taken.push(s.position);
  }
  return { taken, end: progress.done };
}

describe('a server-filtered page of $all ends', () => {
  it('at caughtUp (servers 23.10+), with the events before it, when the end of $all is another application’s', () => {
    const bounds = { from: 'start' as const, end: at(900), limit: 100 };
    expect(run(bounds, [ev(at(100)), ev(at(200)), caughtUp, ev(at(950))])).toEqual({ taken: [at(100), at(200)], end: 'caught-up' });
    expect(run(bounds, [ev(at(100)), ev(at(200))])).toEqual({ taken: [at(100), at(200)], end: undefined });
  });

  it('at a checkpoint at or past the end, not at one before it', () => {
    const bounds = { from: 'start' as const, end: at(900), limit: 100 };
    expect(run(bounds, [ev(at(100)), checkpoint(at(500)), ev(at(600))]).end).toBeUndefined();
    expect(run(bounds, [ev(at(100)), checkpoint(at(900)), ev(at(950))])).toEqual({ taken: [at(100)], end: 'checkpoint' });
    expect(run(bounds, [ev(at(100)), checkpoint(at(1200))])).toEqual({ taken: [at(100)], end: 'checkpoint' });
    // Same commit, earlier prepare: still before the end.
    expect(run({ ...bounds, end: at(900, 800) }, [checkpoint(at(900, 700))]).end).toBeUndefined();
  });

  it('at the end event itself (any server, 20.x included), which is taken when wanted', () => {
    const bounds = { from: 'start' as const, end: at(300), limit: 100 };
    expect(run(bounds, [ev(at(100)), ev(at(300))])).toEqual({ taken: [at(100), at(300)], end: 'end-event' });
    // A foreign end arrives through its own stream's prefix: it ends the page, it is not taken.
    expect(run(bounds, [ev(at(100)), ev(at(300), false)])).toEqual({ taken: [at(100)], end: 'end-event' });
  });

  it('at the limit, and a scan goes on from the exact pair of the last event taken', () => {
    const bounds = { from: 'start' as const, end: at(900), limit: 2 };
    const page = run(bounds, [ev(at(100)), ev(at(150), false), ev(at(200)), ev(at(300))]);
    expect(page).toEqual({ taken: [at(100), at(200)], end: 'limit' });
    expect(resumeAfter('limit', page.taken.at(-1))).toEqual(at(200));
    for (const end of ['end-event', 'checkpoint', 'caught-up'] as const) expect(resumeAfter(end, at(200))).toBeUndefined();
  });

  it('never takes an event past the end: an append after it is left whole to the next read', () => {
    // Two events of one append landed after the end (300): the checkpoint between them must not split it.
    const bounds = { from: 'start' as const, end: at(300), limit: 100 };
    expect(run(bounds, [ev(at(100)), ev(at(400)), checkpoint(at(400)), ev(at(450))])).toEqual({ taken: [at(100)], end: 'end-event' });
  });

  it('ignores everything once done', () => {
    const bounds = { from: 'start' as const, end: at(900), limit: 1 };
    expect(run(bounds, [ev(at(100)), ev(at(200)), caughtUp])).toEqual({ taken: [at(100)], end: 'limit' });
  });
});

describe('before a page: the empty log, nothing new, the filter', () => {
  it('reads nothing from an empty $all or one that ends at or before the position', () => {
    expect(needsPage('start', undefined)).toBe(false);
    expect(needsPage(startAfter(300), { position: at(300), streamId: 'parley-conversation-1' })).toBe(false);
    expect(needsPage(startAfter(300), { position: at(250), streamId: 'orders-1' })).toBe(false);
    expect(needsPage(startAfter(300), { position: at(301), streamId: 'orders-1' })).toBe(true);
    expect(needsPage('start', { position: at(1), streamId: 'orders-1' })).toBe(true);
  });

  it('asks the server for the end’s own stream only when the wanted prefixes do not cover it', () => {
    expect(pagePrefixes(['parley-'], { position: at(9), streamId: 'parley-conversation-1' })).toEqual(['parley-']);
    expect(pagePrefixes(['parley-'], { position: at(9), streamId: 'orders-1' })).toEqual(['parley-', 'orders-1']);
    expect(pagePrefixes(['parley-', 'parley.idempotency-'], { position: at(9), streamId: 'parley.idempotency-ab' })).toEqual(['parley-', 'parley.idempotency-']);
  });
});

describe('where a page’s subscription starts (it starts after an exact event position)', () => {
  const e = (position: EsPosition) => ({ position, streamId: 'parley-conversation-1' });

  it('starts after the event at the position when there is one', () => {
    expect(pageStart(at(250), e(at(250)))).toEqual({ subscribeFrom: at(250), lead: false });
  });

  it('leads with the first event after a position that is no event’s, and starts after it', () => {
    // readAll(position - 1, 1), as webhook redelivery and `parley skip` ask: the event at `position` leads.
    const start = pageStart(startAfter(249) as EsPosition, e(at(250)));
    expect(start).toEqual({ subscribeFrom: at(250), lead: true });
    // With limit 1 the lead alone is the page: no subscription is needed.
    expect(run({ from: startAfter(249), end: at(900), limit: 1 }, [ev(at(250))])).toEqual({ taken: [at(250)], end: 'limit' });
    // The end of another application's transaction (its commit position, no event's position) as a start.
    expect(pageStart(at(300), e(at(400)))).toEqual({ subscribeFrom: at(400), lead: true });
  });

  it('reads nothing when no event lies at or after the position', () => {
    expect(pageStart(at(250), undefined)).toBeUndefined();
  });
});

describe('paging by the exact (commit, prepare) pair (another application’s transaction, commit ≠ prepare)', () => {
  // $all: Parley p1, p2, a foreign explicit transaction f1, f2 (prepared at 150, 200, committed at 300), Parley p3.
  const p1 = at(100);
  const p2 = at(250);
  const f1 = at(300, 150);
  const f2 = at(300, 200);
  const p3 = at(400);

  it('takes nothing it has seen when a page starts inside the transaction', () => {
    const fromF1 = { from: f1, end: p3, limit: 100 };
    expect(run(fromF1, [ev(f2, false), ev(p3)])).toEqual({ taken: [p3], end: 'end-event' });
    // Had it started at f1's Parley number ({150, 150}), p2 would be taken a second time.
    expect(run({ ...fromF1, from: startAfter(150) }, [ev(p2), ev(f2, false), ev(p3)]).taken).toEqual([p2, p3]);
  });

  it('ends at a transaction that ends $all, through its stream, and resumes after the last Parley event', () => {
    const bounds = { from: 'start' as const, end: f2, limit: 100 };
    expect(run(bounds, [ev(p1), ev(p2), ev(f1, false), ev(f2, false), ev(p3)])).toEqual({ taken: [p1, p2], end: 'end-event' });
    const full = run({ ...bounds, limit: 2 }, [ev(p1), ev(p2), ev(f1, false)]);
    expect(full).toEqual({ taken: [p1, p2], end: 'limit' });
    const next = resumeAfter('limit', full.taken.at(-1))!;
    expect(needsPage(next, { position: f2, streamId: 'orders-1' })).toBe(true);
    expect(run({ ...bounds, from: next }, [ev(f1, false), ev(f2, false)])).toEqual({ taken: [], end: 'end-event' });
  });
});

describe('checkpoints and caughtUp among events still buffered in the client’s stream', () => {
  it('applies a signal after the events pushed before it, not before', () => {
    const order = new SignalOrder();
    const end = checkpoint(at(900));
    // Two events pushed, not yet read, when the checkpoint at the end is announced.
    expect(order.announce(end, 2)).toEqual([]);
    expect(order.deliver(ev(at(100)))).toEqual([ev(at(100))]);
    expect(order.deliver(ev(at(200)))).toEqual([ev(at(200)), end]);
    expect(order.announce(caughtUp, 0)).toEqual([caughtUp]);
  });

  it('keeps held signals in order when another is announced before they apply', () => {
    const order = new SignalOrder();
    const c1 = checkpoint(at(100));
    const c2 = checkpoint(at(200));
    expect(order.announce(c1, 1)).toEqual([]);
    expect(order.announce(c2, 0)).toEqual([]);
    expect(order.deliver(ev(at(50)))).toEqual([ev(at(50)), c1, c2]);
  });

  it('so a page ends with every event before the end, however the buffer stood', () => {
    const bounds = { from: 'start' as const, end: at(900), limit: 100 };
    const order = new SignalOrder();
    const signals = [...order.announce(caughtUp, 3), ...order.deliver(ev(at(100))), ...order.deliver(ev(at(200))), ...order.deliver(ev(at(300)))];
    expect(run(bounds, signals)).toEqual({ taken: [at(100), at(200), at(300)], end: 'caught-up' });
  });
});

describe('a scan through pages against a modelled $all (randomized)', () => {
  // Deterministic PRNG: the seed is printed so a failure can be replayed.
  function rng(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  type Rec = { position: EsPosition; stream: string };
  const wanted = (s: string) => s.startsWith('parley-');

  /**
   * What a filtered subscription from `from` sends, by server generation: `all` (the log at
   * the snapshot), then caughtUp (23.10+) or a checkpoint where it caught up (21.x–22.x) or
   * nothing (20.x), then `later` (appended after the snapshot), with periodic checkpoints.
   */
  function serve(all: Rec[], later: Rec[], from: 'start' | EsPosition, prefixes: string[], server: 'caught-up' | 'checkpoint' | 'none'): PageSignal[] {
    const out: PageSignal[] = [];
    let considered = 0;
    const consider = (r: Rec) => {
      if (from !== 'start' && !(r.position.commit > from.commit || (r.position.commit === from.commit && r.position.prepare > from.prepare))) return;
      if (prefixes.some((p) => r.stream.startsWith(p))) out.push(ev(r.position, wanted(r.stream)));
      if (++considered % 32 === 0) out.push(checkpoint(r.position));
    };
    all.forEach(consider);
    if (server === 'caught-up') out.push(caughtUp);
    if (server === 'checkpoint') out.push(checkpoint(at(Number(all.at(-1)!.position.commit) + 1)));
    later.forEach(consider);
    return out;
  }

  it('yields exactly the wanted events up to the end, in order, once each, on every server generation', () => {
    const seed = Number(process.env.SEED ?? Date.now() % 1_000_000);
    console.log(`eventstoredb filtered scan model: SEED=${seed}`);
    const random = rng(seed);
    for (let round = 0; round < 200; round++) {
      const all: Rec[] = [];
      let pos = 1;
      const n = Math.floor(random() * 120);
      for (let i = 0; i < n; i++) {
        pos += 1 + Math.floor(random() * 50);
        if (random() < 0.1) {
          // A foreign explicit transaction: two events committed later than prepared.
          const commit = pos + 100;
          all.push({ position: at(commit, pos), stream: 'orders-9' }, { position: at(commit, pos + 10), stream: 'orders-9' });
          pos = commit;
        } else all.push({ position: at(pos), stream: random() < 0.5 ? `parley-conversation-${i % 5}` : `orders-${i % 3}` });
      }
      const server = (['caught-up', 'checkpoint', 'none'] as const)[Math.floor(random() * 3)]!;
      const end = all.at(-1);
      // Appends after the snapshot (none on a quiet database): the subscription sees them, the scan must not take them.
      const later: Rec[] = [1, 2].slice(0, Math.floor(random() * 3)).map((k) => ({ position: at(pos + 500 + k), stream: 'parley-conversation-late' }));
      const limit = 1 + Math.floor(random() * 10);
      const got: EsPosition[] = [];
      let from: 'start' | EsPosition | undefined = 'start';
      let pages = 0;
      while (from !== undefined && needsPage(from, end && { position: end.position, streamId: end.stream })) {
        const prefixes = pagePrefixes(['parley-'], { position: end!.position, streamId: end!.stream });
        const page = run({ from, end: end!.position, limit }, serve(all, later, from, prefixes, server));
        expect(page.end, `seed ${seed} round ${round}: a page never ended`).toBeDefined();
        got.push(...page.taken);
        from = resumeAfter(page.end!, page.taken.at(-1));
        expect(++pages, `seed ${seed} round ${round}`).toBeLessThan(200);
      }
      expect(got, `seed ${seed} round ${round}`).toEqual(all.filter((r) => wanted(r.stream)).map((r) => r.position));
    }
  });
});
