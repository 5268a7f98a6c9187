/**
 * The live stream from the main thread to the read-model thread, as the main thread keeps
 * count of it (read-model-messages.ts): what it sent and the thread took, so what is in
 * flight stays bounded; past the bound it stops sending and tells the thread where to pull
 * the log from; it sends again once a pulled page reaches everything the feed delivered.
 * Places are log cursors, one entry per partition, so this holds at any partition count.
 */
import { LogCursor, type StoredEvent } from '../engine/store/index.js';

export class LiveChannel {
  /** Live batches go to the thread (false while it pulls the log after falling behind). */
  sending = true;
  private sentEvents = 0;
  private receivedEvents = 0;
  /** Per partition, what was sent to the running thread. */
  private sent: LogCursor;
  /** Per partition, what the live feed delivered here (sent or not). */
  private live: LogCursor;

  constructor(
    private readonly partitions: number,
    /** Live events in flight past which the thread is told to pull the log instead. */
    readonly maxInFlight: number,
  ) {
    this.sent = this.live = LogCursor.start(partitions);
  }

  /** Live events sent that the thread has not taken yet. */
  get inFlight(): number {
    return this.sentEvents - this.receivedEvents;
  }

  /** A new thread: nothing sent to it, nothing in flight. */
  reset(): void {
    this.sending = true;
    this.sentEvents = 0;
    this.receivedEvents = 0;
    this.sent = LogCursor.start(this.partitions);
  }

  /** The feed delivered these here. */
  delivered(events: readonly StoredEvent[]): void {
    this.live = this.live.advancedBy(events);
  }

  /** The thread took this many live events so far (its own count). */
  received(total: number): void {
    this.receivedEvents = total;
  }

  /** These went to the thread; past the bound, sending stops and the answer is the `behind` token to send it. */
  sentBatch(events: readonly StoredEvent[]): string | null {
    this.sentEvents += events.length;
    this.sent = this.sent.advancedBy(events);
    if (this.inFlight <= this.maxInFlight) return null;
    this.sending = false;
    return this.sent.encode();
  }

  /**
   * A page pulled after `after` (`limit` asked): true when it reaches everything the feed
   * delivered, and then sending resumes (decided in the same turn as the check).
   */
  pulled(after: LogCursor, events: readonly StoredEvent[], limit: number): boolean {
    const resumed = events.length < limit && after.advancedBy(events).reaches(this.live);
    if (resumed) this.sending = true;
    return resumed;
  }
}
