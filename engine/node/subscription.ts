/**
 * One socket's subscription to one conversation: gap-free, in order, catch-up then live.
 *
 * `nextSeq` is the seq the client needs next. A live event with that seq is sent at once;
 * an older one is a duplicate and dropped; a newer one means a gap, and the missing
 * events are read from the log first. While catching up, live events are not sent but
 * remembered, so a catch-up that ends just before they were committed reads again.
 */
import type { EventStore } from '../store/index.js';
import { conversationStream } from '../store/index.js';
import { eventsFrame } from './frames.js';

export interface FrameSink {
  send(frame: string): void;
  /** Resolves once the socket's send buffer is low again (for pacing catch-up). */
  drained(): Promise<void>;
  readonly open: boolean;
}

export class Subscription {
  private nextSeq: number;
  private catchingUp = false;
  private newestSeen = 0;

  constructor(
    readonly conversationId: string,
    afterSeq: number,
    private readonly sink: FrameSink,
    private readonly store: EventStore,
    private readonly limits: { catchUpLimit: number; pageSize?: number },
  ) {
    this.nextSeq = afterSeq + 1;
  }

  /** Sends what the client lacks, then `caught-up` (or `behind` if too far back). */
  async start(): Promise<void> {
    const head = await this.store.streamVersion(conversationStream(this.conversationId));
    if (head - (this.nextSeq - 1) > this.limits.catchUpLimit) {
      const afterSeq = this.nextSeq - 1;
      this.nextSeq = head + 1;
      this.sink.send(JSON.stringify({ type: 'behind', conversationId: this.conversationId, afterSeq, headSeq: head }));
    }
    await this.catchUp();
    this.sink.send(JSON.stringify({ type: 'caught-up', conversationId: this.conversationId, seq: this.nextSeq - 1 }));
  }

  /** A live event from the feed, already serialized once for all subscribers. */
  offer(seq: number, frame: string): void {
    if (seq > this.newestSeen) this.newestSeen = seq;
    if (this.catchingUp || seq < this.nextSeq) return;
    if (seq === this.nextSeq) {
      this.nextSeq += 1;
      this.sink.send(frame);
      return;
    }
    void this.catchUp();
  }

  private async catchUp(): Promise<void> {
    if (this.catchingUp) return;
    this.catchingUp = true;
    const pageSize = this.limits.pageSize ?? 500;
    try {
      for (;;) {
        const page = await this.store.readStream(conversationStream(this.conversationId), {
          afterSeq: this.nextSeq - 1,
          limit: pageSize,
        });
        if (!this.sink.open) return;
        if (page.length > 0) {
          this.sink.send(eventsFrame(this.conversationId, page));
          this.nextSeq = page[page.length - 1]!.seq + 1;
        }
        // Waiting for the socket to take each page before reading the next is the backpressure.
        await this.sink.drained();
        if (page.length < pageSize && this.newestSeen < this.nextSeq) return;
      }
    } finally {
      this.catchingUp = false;
    }
  }
}
