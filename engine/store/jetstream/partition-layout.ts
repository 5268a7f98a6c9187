/**
 * How a log of N partitions is laid out in JetStream, and the guard that keeps N from
 * changing by accident.
 *
 * Partition 0 is today's stream (`PARLEY_EVENTS`, subjects `parley.events.*`), so N = 1 is
 * exactly the unpartitioned log; partition p ≥ 1 is `<stream>_P<p>` with subjects
 * `<prefix>_p<p>.*` (streams may not share subjects). Each partition has its own
 * idempotency index (`<its stream>_IDEMPOTENCY`).
 *
 * The count is recorded in partition 0's stream description (`parley partitions=N`). A
 * store opened with another N than the recorded one is refused: conversations would hash
 * to other streams than the ones holding them (their seqs would restart at 1). A stream
 * without the record is an unpartitioned log (N = 1) — refused for N > 1 unless empty.
 * Changing N is a copy into a new generation of streams (`parley repartition`,
 * log-generations.ts), never a restart.
 */
import { JetStreamApiCodes, JetStreamApiError, type JetStreamManager } from '@nats-io/jetstream';
import type { JetStreamStoreOptions } from './options.js';

export class PartitionCountMismatchError extends Error {
  override readonly name = 'PartitionCountMismatchError';
  readonly code = 'partition_count_mismatch';
}

/** The options of partition `p`'s store, given the log's options. */
export function partitionOptions(base: JetStreamStoreOptions, p: number): JetStreamStoreOptions {
  if (p === 0) return base;
  const streamName = base.streamName ?? 'PARLEY_EVENTS';
  const subjectPrefix = base.subjectPrefix ?? 'parley.events';
  return { ...base, streamName: `${streamName}_P${p}`, subjectPrefix: `${subjectPrefix}_p${p}` };
}

const RECORD = /^parley partitions=(\d+)$/;

/** The partition count recorded on partition 0's stream: undefined when it does not exist yet. */
export async function recordedCount(jsm: JetStreamManager, stream: string): Promise<{ count: number; messages: number } | undefined> {
  try {
    const info = await jsm.streams.info(stream);
    const match = RECORD.exec(info.config.description ?? '');
    return { count: match ? Number(match[1]) : 1, messages: info.state.messages };
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return undefined;
    throw err;
  }
}

/** Refuses a log opened with another partition count than it has (see the header). */
export async function assertPartitionCount(jsm: JetStreamManager, stream: string, n: number): Promise<void> {
  const found = await recordedCount(jsm, stream);
  if (!found || found.count === n) return;
  // An empty unpartitioned stream (e.g. created by a node that never wrote) may become partition 0.
  if (found.count === 1 && found.messages === 0) return;
  throw new PartitionCountMismatchError(
    `the log in ${stream} has ${found.count} partition(s) but PARLEY_PARTITIONS=${n}: set PARLEY_PARTITIONS=${found.count}, or change the count with \`parley repartition --to ${n}\` (a copy into new streams while the log serves)`,
  );
}

/** Records `n` on partition 0's stream (after it exists), unless it is already recorded. */
export async function recordPartitionCount(jsm: JetStreamManager, stream: string, n: number): Promise<void> {
  if (n === 1) return; // an unrecorded stream is a one-partition log: N = 1 changes nothing
  const info = await jsm.streams.info(stream);
  if (info.config.description === `parley partitions=${n}`) return;
  await jsm.streams.update(stream, { description: `parley partitions=${n}` });
}
