/**
 * Generations of the log: each `parley repartition` copies the log into a new set of
 * streams, generation g+1, and moves the pointer (log-pointer.ts) to it. Generation 0 has
 * today's names (`<stream>`, `<stream>_P<p>`, subjects `<prefix>.*`), so a log from before
 * generations is generation 0 as it stands; generation g ≥ 1 is `<stream>_G<g>` and
 * `<stream>_G<g>_P<p>` with subjects `<prefix>_g<g>[_p<p>].*` (streams may not share
 * subjects, and the old generation keeps its streams until the operator removes them).
 *
 * A store is opened on the pointer's generation. PARLEY_PARTITIONS must be that
 * generation's count: another one is refused (PartitionCountMismatchError) naming
 * `parley repartition`, the one way to change it.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { withRetryBudget } from './availability.js';
import { JetStreamEventStore } from './jetstream-store.js';
import { pointerBucket, readPointer, type GenerationRef, type PointerAt } from './log-pointer.js';
import { resolveOptions, type JetStreamStoreOptions } from './options.js';
import { PartitionCountMismatchError, partitionOptions, recordedCount } from './partition-layout.js';
import { PartitionedJetStreamStore } from './partitioned-store.js';

/** The options of generation `g`'s log (partition 0 of it; partitionOptions gives the others). */
export function generationOptions(base: JetStreamStoreOptions, g: number): JetStreamStoreOptions {
  if (g === 0) return base;
  const { streamName, subjectPrefix } = resolveOptions(base);
  return { ...base, streamName: `${streamName}_G${g}`, subjectPrefix: `${subjectPrefix}_g${g}` };
}

/** The JetStream streams of a generation, in partition order. */
export function generationStreams(base: JetStreamStoreOptions, ref: GenerationRef): string[] {
  const gen = generationOptions(base, ref.generation);
  return Array.from({ length: ref.partitions }, (_, p) => resolveOptions(partitionOptions(gen, p)).streamName);
}

/** The pointer as it stands, or what a log without one is: generation 0 at its recorded count (undefined: no log yet). */
export async function currentPointer(nc: NatsConnection, jsm: JetStreamManager, base: JetStreamStoreOptions): Promise<PointerAt | undefined> {
  const stream = resolveOptions(base).streamName;
  const found = await readPointer(await pointerBucket(nc, jsm, stream));
  if (found) return found;
  const recorded = await recordedCount(jsm, stream);
  return recorded && { pointer: { generation: 0, partitions: recorded.count, state: 'live' }, revision: 0 };
}

/**
 * The generation a store with `partitions` opens: the pointer's, when one was written
 * (refusing another count), else 0 (where partition-layout.ts guards the count as before);
 * and generation 0's partition count, which read models from before generations were
 * built on (engine/cluster/generation-marker.ts). Retried while JetStream is not ready.
 */
export async function liveGeneration(nc: NatsConnection, base: JetStreamStoreOptions, partitions: number): Promise<{ generation: number; generationZeroPartitions: number }> {
  const options = resolveOptions(base);
  const found = await withRetryBudget('read the log pointer', options.startupBudgetMs, async () => {
    const jsm = await jetstreamManager(nc, { timeout: options.requestTimeoutMs });
    const pointer = await readPointer(await pointerBucket(nc, jsm, options.streamName));
    return pointer && { pointer: pointer.pointer, zero: (await recordedCount(jsm, options.streamName))?.count ?? 1 };
  });
  if (!found) return { generation: 0, generationZeroPartitions: partitions };
  const { generation, partitions: count } = found.pointer;
  if (count !== partitions) {
    throw new PartitionCountMismatchError(
      `the log ${options.streamName} is generation ${generation} with ${count} partition(s) but PARLEY_PARTITIONS=${partitions}: set PARLEY_PARTITIONS=${count}, or change the count with \`parley repartition --to ${partitions}\` (a copy into new streams while the log serves)`,
    );
  }
  return { generation, generationZeroPartitions: found.zero };
}

/** A store over generation `g` with `partitions` (a plain store for one partition, as always). */
export function connectGeneration(base: JetStreamStoreOptions, g: number, partitions: number): Promise<JetStreamEventStore | PartitionedJetStreamStore> {
  const options = generationOptions(base, g);
  return partitions > 1 ? PartitionedJetStreamStore.connect({ ...options, partitions }) : JetStreamEventStore.connect(options);
}
