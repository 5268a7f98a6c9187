/**
 * Re-indexing idempotency keys from the log, so a key whose index stream a crashed node
 * never wrote (idempotency-index.ts, point 4) is findable again.
 *
 * A shared checkpoint says up to which `$all` position every keyed event of this log is
 * indexed. A repair scans this log's events (filtered on the server) from it to the end
 * of `$all` as it was when the repair began, writes the missing entries (NO_STREAM: a key
 * indexed meanwhile keeps its first entry) and moves the checkpoint. Every node runs it
 * on connect and periodically; nodes repairing the same range at once write the same
 * entries, which costs work, not correctness. The checkpoint moves every CHUNK scanned
 * events, so a long repair keeps its progress if it fails.
 */
import type { EventStoreDBClient } from '@eventstore/db-client';
import { idempotencyOf } from './event-data.js';
import { KeyedAppends } from './keyed-appends.js';
import type { IdempotencyIndex, IndexEntry } from './idempotency-index.js';
import { endOfAll, eventsOf, scanFiltered } from './filtered-reads.js';
import { portStreamOf, type Names } from './names.js';
import { endPositionOf, seqOfRevision } from './positions.js';

const CHUNK = 10_000;

export async function repairIndex(client: EventStoreDBClient, names: Names, index: IdempotencyIndex, signal?: AbortSignal): Promise<number> {
  const { position: from } = await index.checkpoint(signal);
  // The end of `$all` before the scan: a log with no events yet starts its checkpoint
  // there, so a database full of other data is searched for keys once, not at every repair.
  const allEnd = from === 0 ? await endOfAll(client, signal) : undefined;
  let repaired = 0;
  let scanned = 0;
  let last = from;
  const appends = new KeyedAppends();
  const ensure = async (entry: IndexEntry | undefined) => {
    if (entry && !(await index.find(entry.key, signal))) {
      await index.record(entry, signal);
      repaired++;
    }
  };
  // Filtered on the server to this log's streams, to the end of `$all` as the scan began
  // (so never half of an append: filtered-page.ts).
  for await (const { event, position } of scanFiltered(client, eventsOf(names), from, signal)) {
    const stream = portStreamOf(names, event.streamId);
    if (stream === undefined) continue;
    await ensure(appends.take({ stream, id: event.id, seq: seqOfRevision(event.revision), record: idempotencyOf(event) }));
    last = position;
    if (++scanned % CHUNK === 0 && !appends.open) await index.advanceCheckpoint(position, signal);
  }
  await ensure(appends.finish());
  if (last > from) await index.advanceCheckpoint(last, signal);
  else if (allEnd) await index.advanceCheckpoint(endPositionOf(allEnd.position), signal);
  return repaired;
}
