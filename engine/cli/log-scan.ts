/**
 * Reading the whole log through the port, a page at a time, up to a head cursor read
 * beforehand: the log is append-only and each partition gives positions in commit order,
 * so everything a head covers is fixed, and the scan is one consistent snapshot even
 * while nodes append. Each partition's events come in its order; a partitioned log has no
 * order across partitions (log-cursor.ts), and nothing here needs one.
 */
import { LogCursor, readAllAfter, type EventStore, type StoredEvent } from '../store/index.js';

const PAGE = 5000;

/** Pages of the events `head` covers that `from` (the start by default) does not. */
export async function* eventsUpTo(store: Pick<EventStore, 'readAll'>, head: LogCursor, from = LogCursor.start(head.partitions)): AsyncGenerator<StoredEvent[]> {
  for (let after = from; !after.reaches(head); ) {
    const page = await readAllAfter(store, after, PAGE);
    if (page.length === 0) return;
    const kept = page.filter((e) => head.covers(e.position));
    if (kept.length > 0) yield kept;
    // Past the whole page, not only what was kept: a partition that went beyond the head
    // is done there, and every page makes progress.
    after = after.advancedBy(page);
  }
}

/**
 * The same events as `eventsUpTo` from the start, one partition after another, for scans
 * that need no order across partitions (export, stats, the log checks): the store's
 * cursor read takes a page from every partition and keeps one page of the merge, so a
 * scan of all partitions at once reads each event about N times; with the others held at
 * the head, a page is one partition's. A read model's replay keeps `eventsUpTo`, the
 * order the node's runner reads.
 */
export async function* eventsByPartition(store: Pick<EventStore, 'readAll'>, head: LogCursor): AsyncGenerator<StoredEvent[]> {
  const n = head.partitions;
  for (let p = 0; p < n; p++) {
    const others = head.entries.filter((entry, i) => i !== p && entry > 0).map((position) => ({ position }));
    yield* eventsUpTo(store, head, LogCursor.start(n).advancedBy(others));
  }
}
