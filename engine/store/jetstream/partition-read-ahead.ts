/**
 * What a merged whole-log read fetched and did not return. `readAllAfter` asks every
 * partition for up to `limit` events and returns `limit` in all, so without this a reader
 * going through the log page by page fetched each event about N times. The rest of each
 * partition's page is kept, keyed by the position it follows, and served to the next read
 * that resumes exactly there (a sequential reader: catch-up, rebuild, export). Events in
 * the log never change, and no caller has seen these objects, so serving them later is
 * the same as reading them again.
 */
import type { StoredEvent } from '../port.js';

/** Events kept over all partitions at most: the page a reader did not take, not a cache of the log. */
const MAX_KEPT = 8192;

export class PartitionReadAhead {
  private readonly kept = new Map<number, { after: number; events: StoredEvent[] }>();
  private size = 0;

  /** Partition `p`'s events right after position `after`, if this holds them. */
  take(p: number, after: number): StoredEvent[] | undefined {
    const entry = this.kept.get(p);
    if (!entry || entry.after !== after) return undefined;
    this.drop(p);
    return entry.events;
  }

  /** Keeps `events` (partition `p`'s, in order) as what follows `after` there. */
  keep(p: number, after: number, events: StoredEvent[]): void {
    this.drop(p);
    const room = Math.min(events.length, MAX_KEPT - this.size);
    if (room <= 0) return;
    this.kept.set(p, { after, events: events.slice(0, room) });
    this.size += room;
  }

  clear(): void {
    this.kept.clear();
    this.size = 0;
  }

  private drop(p: number): void {
    const entry = this.kept.get(p);
    if (!entry) return;
    this.size -= entry.events.length;
    this.kept.delete(p);
  }
}
