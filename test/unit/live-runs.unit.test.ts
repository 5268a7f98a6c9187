/**
 * Live events of one committed batch reach a subscription as a run: what the client lacks
 * goes out in one frame, a run too big for one frame goes out event by event with the send
 * buffer looked at before each, and a full buffer or a gap turns into catch-up from the log.
 */
import { describe, expect, it } from 'vitest';
import { LiveRun } from '../../engine/node/frames.js';
import { Subscription, type SubscriptionSink } from '../../engine/node/subscription.js';
import type { StoredEvent } from '../../engine/store/index.js';
import { eventually } from '../helpers/eventually.js';

const C = 'c1';
const log: StoredEvent[] = Array.from({ length: 20 }, (_, i) => ({
  stream: `conversation-${C}`,
  seq: i + 1,
  position: i + 1,
  id: `e${i + 1}`,
  type: 'MessagePosted',
  data: { messageId: `m${i + 1}`, text: `message ${i + 1}` },
  metadata: { actor: 'alice', commandId: `p${i + 1}`, correlationId: `p${i + 1}`, at: 0, schemaVersion: 1 },
}));
const run = (from: number, to: number) => new LiveRun(C, log.slice(from - 1, to));

function setup(options: { chunkBytes?: number; congestAfter?: number } = {}) {
  const frames: Array<{ paced: boolean; type: string; seqs: number[] }> = [];
  let fellBack = 0;
  let head = 0;
  const record = (f: { toString(): string }, paced: boolean) => {
    const parsed = JSON.parse(f.toString());
    const events = parsed.type === 'event' ? [parsed.event] : parsed.type === 'events' ? parsed.events : [];
    frames.push({ paced, type: parsed.type, seqs: events.map((e: { seq: number }) => e.seq) });
  };
  const sink: SubscriptionSink = {
    open: true,
    get congested() {
      return options.congestAfter !== undefined && frames.filter((f) => !f.paced && f.seqs.length > 0).length >= options.congestAfter;
    },
    chunkBytes: options.chunkBytes ?? 1 << 20,
    send: (f) => record(f, false),
    sendPaced: (f) => record(f, true),
    drained: async () => undefined,
    catchUpSlot: async () => () => undefined,
    stillMember: async () => true,
    ended: () => undefined,
    fellBack: () => void (fellBack += 1),
    tooSlow: () => undefined,
    failed: (_s, err) => {
      throw err;
    },
  };
  const store = {
    streamVersion: async () => head,
    readStream: async (_s: string, o: { afterSeq: number; limit: number }) => log.slice(o.afterSeq, Math.min(head, o.afterSeq + o.limit)),
  };
  const sub = new Subscription(C, 'bob', 0, sink, store, { catchUpLimit: 1000, slowConsumerMs: 60_000 });
  const delivered = () => frames.flatMap((f) => f.seqs);
  return { sub, frames, delivered, fellBack: () => fellBack, commit: (to: number) => (head = to) };
}

describe('live runs', () => {
  it('sends a run in one frame, and only the part the client lacks', async () => {
    const t = setup();
    await t.sub.start();
    t.commit(3);
    t.sub.offer(run(1, 3));
    expect(t.frames.at(-1)).toEqual({ paced: false, type: 'events', seqs: [1, 2, 3] });
    t.commit(5);
    t.sub.offer(run(3, 5));
    expect(t.frames.at(-1)).toEqual({ paced: false, type: 'events', seqs: [4, 5] });
    t.commit(6);
    t.sub.offer(run(6, 6));
    expect(t.frames.at(-1)).toEqual({ paced: false, type: 'event', seqs: [6] });
    t.sub.offer(run(2, 6)); // all delivered already: nothing is sent
    expect(t.delivered()).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('sends a run too big for one frame event by event, and falls back to catch-up when the buffer fills', async () => {
    const t = setup({ chunkBytes: 300, congestAfter: 3 });
    await t.sub.start();
    t.commit(10);
    t.sub.offer(run(1, 10));
    expect(t.frames.slice(1, 4).map((f) => f.type)).toEqual(['event', 'event', 'event']);
    expect(t.fellBack()).toBe(1);
    // The rest comes from the log, paced, in order and without gaps or repeats.
    await eventually(() => expect(t.delivered()).toEqual(Array.from({ length: 10 }, (_, i) => i + 1)));
    expect(t.frames.slice(4).every((f) => f.paced)).toBe(true);
  });

  it('reads a gap from the log before sending a later run', async () => {
    const t = setup();
    await t.sub.start();
    t.commit(8);
    t.sub.offer(run(6, 8)); // 1–5 were never offered (another batch lost to this socket)
    await eventually(() => expect(t.delivered()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]));
    t.commit(9);
    await eventually(() => {
      t.sub.offer(run(9, 9));
      expect(t.delivered()).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    });
  });
});
