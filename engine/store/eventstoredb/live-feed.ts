/**
 * The live feed: this log's committed events, in position order, to the store's listeners.
 *
 * One catch-up subscription to `$all` per store instance, filtered on the server by the
 * log's stream prefix (names.ts), started from the end of `$all` as it was at connect, so
 * nothing committed after connect is missed, and the node consumes the feed once however
 * many listeners it has. When the subscription fails (server restart, leader change) it is
 * taken again from the last position fed, after a backoff; the error goes to `onError`,
 * and no event is fed twice (positions at or before the last fed one are dropped).
 */
import { type AllStreamResolvedEvent, type AllStreamSubscription, type EventStoreDBClient } from '@eventstore/db-client';
import { backoffDelay } from '../backoff.js';
import type { FeedListener, StoredEvent } from '../port.js';
import { fromRecorded } from './event-data.js';
import { translateError } from './errors.js';
import { eventFilterOf, portStreamOf, type Names } from './names.js';
import { positionOf, seqOfRevision, startAfter } from './positions.js';

export class LiveFeed {
  private readonly listeners = new Set<FeedListener>();
  private subscription: AllStreamSubscription | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private closed = false;

  constructor(
    private readonly client: EventStoreDBClient,
    private readonly names: Names,
    /** The newest `$all` position already behind us (fed, or in the log at connect). */
    private head: number,
    private readonly onError: (err: Error) => void,
  ) {}

  start(): void {
    if (this.closed) return;
    let sub: AllStreamSubscription;
    try {
      sub = this.client.subscribeToAll({
        fromPosition: startAfter(this.head),
        filter: eventFilterOf(this.names),
      });
    } catch (err) {
      this.retryLater(err);
      return;
    }
    this.subscription = sub;
    sub.on('data', (resolved: AllStreamResolvedEvent) => this.onEvent(resolved));
    sub.on('error', (err: Error) => this.restart(sub, err));
    sub.on('end', () => this.restart(sub, new Error('the $all subscription ended')));
  }

  subscribe(listener: FeedListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.listeners.clear();
    const sub = this.subscription;
    this.subscription = undefined;
    await sub?.unsubscribe().catch(() => undefined);
  }

  private onEvent(resolved: AllStreamResolvedEvent): void {
    const event = resolved.event;
    if (!event) return;
    let stored: StoredEvent;
    try {
      const position = positionOf(event.position);
      if (position <= this.head) return;
      this.head = position;
      const stream = portStreamOf(this.names, event.streamId);
      if (stream === undefined) return;
      stored = fromRecorded(event, stream, seqOfRevision(event.revision), position);
    } catch (err) {
      // A foreign or malformed event under our prefix is reported and skipped, never fatal.
      this.onError(err as Error);
      return;
    }
    this.failures = 0;
    for (const listener of this.listeners) {
      try {
        listener([stored]);
      } catch (err) {
        // A faulty listener must not break the feed or starve the others, nor end the process.
        console.error('event feed: a listener failed on a batch; the feed goes on', err);
      }
    }
  }

  private restart(sub: AllStreamSubscription, err: Error): void {
    if (this.closed || sub !== this.subscription) return;
    this.subscription = undefined;
    sub.unsubscribe().catch(() => undefined);
    this.retryLater(err);
  }

  private retryLater(err: unknown): void {
    this.onError(translateError(err, 'live feed subscription'));
    const delay = backoffDelay(this.failures++, { initialMs: 100, maxMs: 5_000, jitter: 'equal' });
    this.retryTimer = setTimeout(() => this.start(), delay);
    this.retryTimer.unref();
  }
}
