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
import { idempotencyOf } from './event-data.js';
import { KeyedAppends } from './keyed-appends.js';
import type { IdempotencyIndex, IndexEntry } from './idempotency-index.js';
import { lastPosition, scanAll } from './log-reads.js';
import { isEventStream, portStreamOf, type Names } from './names.js';
import { seqOfRevision } from './positions.js';

const CHUNK = 10_000;

export async function repairIndex(client: EventStoreDBClient, names: Names, index: IdempotencyIndex, signal?: AbortSignal): Promise<number> {
  const { position: from } = await index.checkpoint(signal);
  // The end of `$all` before this log's head: a log with no events yet starts its
  // checkpoint there, so a database full of other data is never scanned for keys it cannot hold.
  const allEnd = from === 0 ? await lastPosition(client, () => true, signal) : 0;
  const head = await lastPosition(client, (s) => isEventStream(names, s), signal);
  if (head === 0 && allEnd > 0) await index.advanceCheckpoint(allEnd, signal);
  if (head <= from) return 0;
  let repaired = 0;
  let scanned = 0;
  const appends = new KeyedAppends();
  const ensure = async (entry: IndexEntry | undefined) => {
    if (entry && !(await index.find(entry.key, signal))) {
      await index.record(entry, signal);
      repaired++;
    }
  };
  for await (const { event, position } of scanAll(client, from, signal)) {
    if (position > head) break;
    const stream = portStreamOf(names, event.streamId);
    if (stream === undefined) continue;
    await ensure(appends.take({ stream, id: event.id, seq: seqOfRevision(event.revision), record: idempotencyOf(event) }));
    if (++scanned % CHUNK === 0 && !appends.open) await index.advanceCheckpoint(position, signal);
  }
  await ensure(appends.finish());
  await index.advanceCheckpoint(head, signal);
  return repaired;
}
