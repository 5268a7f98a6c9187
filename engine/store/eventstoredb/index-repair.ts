/**
 * Re-indexing idempotency keys from the log, so a key whose index stream a crashed node
 * never wrote (idempotency-index.ts, point 4) is findable again.
 *
 * A shared checkpoint says up to which `$all` position every keyed event of this log is
 * indexed. A repair scans from it to the head as it was when the repair began, writes the
 * missing entries (NO_STREAM: a key indexed meanwhile keeps its first entry) and moves
 * the checkpoint. Every node runs it on connect and periodically; nodes repairing the same
 * range at once write the same entries, which costs work, not correctness. The checkpoint
 * moves every CHUNK scanned events, so a long repair keeps its progress if it fails.
 */
import type { EventStoreDBClient } from '@eventstore/db-client';
import { idempotencyOf, keyedEventId } from './event-data.js';
import type { IdempotencyIndex, IndexEntry } from './idempotency-index.js';
import { lastPosition, scanAll } from './log-reads.js';
import { isEventStream, portStreamOf, type Names } from './names.js';
import { seqOfRevision } from './positions.js';

const CHUNK = 10_000;

export async function repairIndex(client: EventStoreDBClient, names: Names, index: IdempotencyIndex): Promise<number> {
  const { position: from } = await index.checkpoint();
  // The end of `$all` before this log's head: a log with no events yet starts its
  // checkpoint there, so a database full of other data is never scanned for keys it cannot hold.
  const allEnd = from === 0 ? await lastPosition(client, () => true) : 0;
  const head = await lastPosition(client, (s) => isEventStream(names, s));
  if (head === 0 && allEnd > 0) await index.advanceCheckpoint(allEnd);
  if (head <= from) return 0;
  let repaired = 0;
  let scanned = 0;
  // A keyed append's events follow each other in `$all`; its entry is written once its last
  // event is seen, so the entry's version is the stream's version after the whole append.
  let pending: { entry: IndexEntry; next: number } | undefined;
  const flush = async () => {
    if (pending && !(await index.find(pending.entry.key))) {
      await index.record(pending.entry);
      repaired++;
    }
    pending = undefined;
  };
  for await (const { event, position } of scanAll(client, from)) {
    if (position > head) break;
    const stream = portStreamOf(names, event.streamId);
    if (stream === undefined) continue;
    if (pending && pending.entry.stream === stream && event.id === keyedEventId(pending.entry.key, pending.next)) {
      pending.entry.version = seqOfRevision(event.revision);
      pending.next++;
      continue;
    }
    await flush();
    const record = idempotencyOf(event);
    if (record) pending = { entry: { ...record, stream, version: seqOfRevision(event.revision) }, next: 1 };
    if (++scanned % CHUNK === 0 && !pending) await index.advanceCheckpoint(position);
  }
  await flush();
  await index.advanceCheckpoint(head);
  return repaired;
}
