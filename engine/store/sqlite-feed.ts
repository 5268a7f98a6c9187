/**
 * The embedded store's live feed: committed events to the listeners, in position order,
 * each exactly once.
 *
 * Events normally come from the writer's answers. A writer that died after its commit,
 * or a commit reported failed whose data did reach the disk, leaves events in the log the
 * answers never carried; `catchUp` reads the log past the head fed so far and feeds them,
 * and the answers that come later skip what it already fed.
 */
import type { FeedListener, StoredEvent } from './port.js';

/** Reads events in position order after a position (the store's own connection). */
export type ReadAfter = (afterPosition: number, limit: number) => StoredEvent[];

/** The listeners of the store's feed and the newest position they were given. */
export class CommittedFeed {
  private readonly listeners = new Set<FeedListener>();

  constructor(
    /** The newest position fed (or in the log when the store opened). */
    private head: number,
    private readonly readAfter: ReadAfter,
  ) {}

  get position(): number {
    return this.head;
  }

  subscribe(listener: FeedListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Feeds newly committed events, skipping those a catch-up already fed. */
  publish(committed: StoredEvent[]): void {
    const unfed = committed.length > 0 && committed[0]!.position <= this.head ? committed.filter((e) => e.position > this.head) : committed;
    if (unfed.length === 0) return;
    this.head = unfed[unfed.length - 1]!.position;
    this.emit(unfed);
  }

  /** Feeds the events in the log past the head: every event in the log must reach the listeners. */
  catchUp(): void {
    try {
      for (;;) {
        const rows = this.readAfter(this.head, 1000);
        if (rows.length === 0) return;
        this.head = rows[rows.length - 1]!.position;
        this.emit(rows);
      }
    } catch {
      // Unreadable for now; the next failure or restart looks again.
    }
  }

  clear(): void {
    this.listeners.clear();
  }

  private emit(events: StoredEvent[]): void {
    for (const listener of this.listeners) {
      try {
        listener(events);
      } catch (err) {
        // A faulty listener must not break the feed or starve the others, nor end the
        // process (a throw from a microtask would): it is reported and the feed goes on.
        console.error('event feed: a listener failed on a batch; the feed goes on', err);
      }
    }
  }
}
