/**
 * One socket's subscription to one conversation: gap-free, in order, catch-up then live.
 *
 * `nextSeq` is the seq the client needs next. A live event with that seq is sent at once;
 * an older one is a duplicate and dropped; a newer one means a gap, and the missing
 * events are read from the log first. While catching up, live events are not sent but
 * remembered, so a catch-up that ends just before they were committed reads again.
 *
 * A client that reads slowly never makes the node hold its live frames: while the
 * socket's send buffer is over its bound, a live event is not sent but turns the
 * subscription back into a paced catch-up from the last seq it delivered, which reads
 * from the log only as fast as the client takes it — still gap-free and in order. One
 * that stays behind the live stream for longer than `slowConsumerMs` is let go (4504):
 * the client reconnects and catches up, or is told to page if it fell too far behind.
 *
 * A subscription ends for good (`stop()`) when it is dropped: unsubscribed, replaced,
 * the socket closed, or the user left the conversation. Every await in a catch-up is
 * followed by a look at `stopped`, so nothing is sent after that — and a catch-up never
 * sends past the user's own `MemberLeft` unless they are a member again by then.
 */
import type { ErrorBody } from '../../protocol/index.js';
import type { StoredEvent } from '../store/index.js';
import { conversationStream } from '../store/index.js';
import type { EncodedFrame } from './encoded-frame.js';
import { eventsFrames, type LiveRun } from './frames.js';

/** What a subscription needs from its socket. */
export interface SubscriptionSink {
  readonly open: boolean;
  /** The send buffer is over its bound: live frames must wait for a catch-up. */
  readonly congested: boolean;
  /** The largest catch-up frame to send at once. */
  readonly chunkBytes: number;
  /** A frame that goes out now (bounded by the socket's hard bound). */
  send(frame: string | EncodedFrame): void;
  /** A catch-up frame, sent after `drained()`. */
  sendPaced(frame: string): void;
  /** Resolves once the socket's send buffer is low again (for pacing catch-up). */
  drained(): Promise<void>;
  /** One of the socket's few catch-up slots; resolves with its release. */
  catchUpSlot(): Promise<() => void>;
  /** Whether the user is a member once read models include `position` (after their `MemberLeft`). */
  stillMember(conversationId: string, position: number): Promise<boolean>;
  /** The subscription ended on its own (membership lost, store failure): tell the client. */
  ended(subscription: Subscription, body: ErrorBody): void;
  /** Live frames turned into catch-up because the client reads too slowly. */
  fellBack(): void;
  /** The client stayed behind the live stream for too long: close the socket (4504). */
  tooSlow(reason: string): void;
  /** A catch-up failed for a reason that is not the client's. */
  failed(subscription: Subscription, err: unknown): void;
}

export interface StreamReader {
  streamVersion(stream: string): Promise<number>;
  readStream(stream: string, options: { afterSeq: number; limit: number }): Promise<StoredEvent[]>;
}

export class Subscription {
  private nextSeq: number;
  /** True from creation until `start()` has sent `caught-up`, and during every later catch-up. */
  private catchingUp = true;
  private newestSeen = 0;
  private stopped = false;
  /** When live frames last turned into catch-up because the socket was full; unset while live. */
  private behindSince: number | undefined;

  constructor(
    readonly conversationId: string,
    private readonly userId: string,
    afterSeq: number,
    private readonly sink: SubscriptionSink,
    private readonly store: StreamReader,
    private readonly limits: { catchUpLimit: number; slowConsumerMs: number; pageSize?: number },
  ) {
    this.nextSeq = afterSeq + 1;
  }

  /** Ends the subscription: nothing more is sent, a catch-up in flight stops at its next step. */
  stop(): void {
    this.stopped = true;
  }

  /** Whether the client has been sent the event with this seq. */
  delivered(seq: number): boolean {
    return seq < this.nextSeq;
  }

  private get done(): boolean {
    return this.stopped || !this.sink.open;
  }

  /** Sends what the client lacks, then `caught-up` (or `behind` if too far back). */
  async start(): Promise<void> {
    const release = await this.sink.catchUpSlot();
    try {
      if (this.done) return;
      const head = await this.store.streamVersion(conversationStream(this.conversationId));
      if (this.done) return;
      if (head - (this.nextSeq - 1) > this.limits.catchUpLimit) {
        const afterSeq = this.nextSeq - 1;
        this.nextSeq = head + 1;
        this.sink.send(JSON.stringify({ type: 'behind', conversationId: this.conversationId, afterSeq, headSeq: head }));
      }
      if (!(await this.readUp())) return;
      this.sink.send(JSON.stringify({ type: 'caught-up', conversationId: this.conversationId, seq: this.nextSeq - 1 }));
    } catch (err) {
      this.sink.failed(this, err);
    } finally {
      this.catchingUp = false;
      release();
    }
  }

  /**
   * Live events from the feed: consecutive seqs of this conversation from one committed
   * batch, serialized once for all subscribers. What the client lacks of them goes out in
   * one frame; if that frame would be larger than a catch-up page, one frame per event,
   * looking at the send buffer before each as a single live event does.
   */
  offer(run: LiveRun): void {
    if (this.stopped) return;
    if (run.lastSeq > this.newestSeen) this.newestSeen = run.lastSeq;
    if (this.catchingUp || run.lastSeq < this.nextSeq) return;
    let i = this.nextSeq - run.firstSeq;
    if (i >= 0 && !this.sink.congested && (i === run.length - 1 || run.bytesFrom(i) <= this.sink.chunkBytes)) {
      this.nextSeq = run.lastSeq + 1;
      this.sink.send(run.frameFrom(i));
      return;
    }
    for (; i >= 0 && i < run.length && !this.sink.congested; i++) {
      this.nextSeq += 1;
      this.sink.send(run.single(i));
    }
    if (i === run.length) return;
    if (i >= 0) {
      this.behindSince ??= Date.now();
      this.sink.fellBack();
    }
    this.catchingUp = true;
    this.catchUp().catch((err: unknown) => this.sink.failed(this, err));
  }

  /** A catch-up after a gap or a fall-back, in one of the socket's slots. */
  private async catchUp(): Promise<void> {
    const release = await this.sink.catchUpSlot();
    try {
      if (await this.readUp()) this.behindSince = undefined;
    } finally {
      this.catchingUp = false;
      release();
    }
  }

  /**
   * Reads from `nextSeq` to the newest event seen, a page at a time, sending each page
   * only once the socket took the previous one. False when the subscription ended.
   */
  private async readUp(): Promise<boolean> {
    const pageSize = this.limits.pageSize ?? 500;
    for (;;) {
      // Waiting for the socket to take what it has before reading more is the backpressure.
      await this.sink.drained();
      if (this.done) return false;
      if (this.behindSince !== undefined && Date.now() - this.behindSince > this.limits.slowConsumerMs) {
        this.sink.tooSlow(`behind the live stream of ${this.conversationId} for too long`);
        return false;
      }
      const page = await this.store.readStream(conversationStream(this.conversationId), {
        afterSeq: this.nextSeq - 1,
        limit: pageSize,
      });
      if (this.done) return false;
      if (!(await this.deliver(page))) return false;
      if (page.length < pageSize && this.newestSeen < this.nextSeq) return true;
    }
  }

  /** Sends a page, cut at the user's own removal unless they are a member again. */
  private async deliver(page: StoredEvent[]): Promise<boolean> {
    let rest = page;
    while (rest.length > 0) {
      const left = rest.findIndex((e) => e.type === 'MemberLeft' && (e.data as { userId?: unknown }).userId === this.userId);
      const run = left === -1 ? rest : rest.slice(0, left + 1);
      for (const { frame, lastSeq } of eventsFrames(this.conversationId, run, this.sink.chunkBytes)) {
        if (this.done) return false;
        this.sink.sendPaced(frame);
        this.nextSeq = lastSeq + 1;
        if (lastSeq !== run[run.length - 1]!.seq) await this.sink.drained();
      }
      if (left === -1) return true;
      const member = await this.sink.stillMember(this.conversationId, rest[left]!.position);
      if (this.done) return false;
      if (!member) {
        this.stop();
        this.sink.ended(this, { code: 'forbidden', message: 'You are no longer a member of this conversation' });
        return false;
      }
      rest = rest.slice(left + 1);
    }
    return true;
  }
}
