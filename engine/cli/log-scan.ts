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
