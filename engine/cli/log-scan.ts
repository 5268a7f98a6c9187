/**
 * Reading the whole log through the port, a page at a time in position order, up to a
 * head read beforehand: the log is append-only and positions are given in commit order,
 * so everything at or below that head is fixed, and the scan is one consistent snapshot
 * even while nodes append.
 */
import type { EventStore, StoredEvent } from '../store/index.js';

const PAGE = 5000;

export async function* eventsUpTo(store: EventStore, head: number): AsyncGenerator<StoredEvent[]> {
  for (let after = 0; after < head; ) {
    const page = await store.readAll(after, PAGE);
    const kept = page.filter((e) => e.position <= head);
    if (kept.length > 0) yield kept;
    if (kept.length < page.length || page.length === 0) return;
    after = page[page.length - 1]!.position;
  }
}
