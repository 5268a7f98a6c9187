/**
 * Finding keyed appends in a scan of the log, for the index repair.
 *
 * A keyed append's record rides on its first event, and its events' ids are derived from
 * the key (event-data.ts), so in `$all` order an append is: one event carrying the record,
 * then the events with ids keyedEventId(key, 1), (key, 2), … in the same stream. The
 * entry's version is the stream's version after the whole append, so an entry is complete
 * only once the next event is not part of it (or the scan ends).
 */
import type { IdempotencyRecord } from '../port.js';
import { keyedEventId } from './event-data.js';
import type { IndexEntry } from './idempotency-index.js';

export interface ScannedEvent {
  /** The port stream. */
  stream: string;
  /** EventStoreDB's event id. */
  id: string;
  seq: number;
  /** The record the event carries (first event of a keyed append). */
  record: IdempotencyRecord | undefined;
}

export class KeyedAppends {
  private pending: { entry: IndexEntry; next: number } | undefined;

  /** Takes the next event of the log; returns the entry an append completed by it, if any. */
  take(event: ScannedEvent): IndexEntry | undefined {
    const p = this.pending;
    if (p && p.entry.stream === event.stream && event.id === keyedEventId(p.entry.key, p.next)) {
      p.entry.version = event.seq;
      p.next++;
      return undefined;
    }
    const done = this.finish();
    if (event.record) this.pending = { entry: { ...event.record, stream: event.stream, version: event.seq }, next: 1 };
    return done;
  }

  /** The append still open at the end of a scan. */
  finish(): IndexEntry | undefined {
    const done = this.pending?.entry;
    this.pending = undefined;
    return done;
  }

  /** Whether an append is open (a checkpoint must not be placed inside one). */
  get open(): boolean {
    return this.pending !== undefined;
  }
}
