/**
 * One event of the log by its position (an admin's redelivery, a lane finding its
 * registration). On an unpartitioned log, the page after the position before it. On a log
 * of N partitions positions say their partition (`position % N`, log-cursor.ts) but have
 * no order across partitions: the read starts just before it in its partition and at the
 * head in every other, so only events appended since can come with it.
 */
import { headCursorOf, LogCursor, partitionsOf, readAllAfter, type EventStore, type StoredEvent } from '../../store/index.js';

/** Events read with the one sought on a partitioned log: others' appends since the head, sorted by time after it. */
const PEEK = 16;

/** The event at `position`, or undefined when the log has none there. */
export async function eventAt(store: EventStore, position: number): Promise<StoredEvent | undefined> {
  if (!Number.isSafeInteger(position) || position < 1) return undefined;
  const n = partitionsOf(store);
  if (n === 1) {
    const [event] = await store.readAll(position - 1, 1);
    return event?.position === position ? event : undefined;
  }
  const p = position % n;
  const head = await headCursorOf(store);
  const others = head.entries.flatMap((h, q) => (q !== p && h > 0 ? [{ position: h }] : []));
  const before = position - n > 0 ? [{ position: position - n }] : [];
  const page = await readAllAfter(store, LogCursor.start(n).advancedBy([...others, ...before]), PEEK);
  return page.find((e) => e.position === position);
}
