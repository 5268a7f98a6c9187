/**
 * The EventStore port over a log split into N JetStream streams (`PARLEY_PARTITIONS=N`):
 * each store stream lives in one partition (partitions.ts: conversations by FNV-1a 32 of
 * their id mod N, everything else in partition 0), and each partition is a whole
 * JetStreamEventStore on one shared connection — its own stream, Raft leader, idempotency
 * index and live feed. Per-stream order, dense seqs, optimistic concurrency and
 * idempotency are the partition store's, unchanged.
 *
 * What changes is positions (log-cursor.ts): `local * N + p`, unique and ordered within a
 * partition only. Whole-log reads go by a LogCursor (`readAllAfter`, `headCursor`);
 * `readAll` / `headPosition` with a plain number work for N = 1 (and `readAll(0)`, the
 * start, for any N), else reject with InvalidCursorError. The live feed merges the
 * partitions' feeds: each partition's events in order, no order across partitions.
 *
 * An idempotency key is recorded in the partition of the stream its command appended to
 * (a key belongs to one command, a command to one stream); a lookup asks every partition.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type {
  AppendOptions,
  AppendResult,
  EventStore,
  FeedListener,
  IdempotencyRecord,
  NewEvent,
  ReadStreamOptions,
  StoredEvent,
} from '../port.js';
import { InvalidCursorError, LogCursor, localPositionOf, partitionedPosition } from '../log-cursor.js';
import { assertPartitionCount as assertCountValid, partitionOf } from '../partitions.js';
import { withRetryBudget } from './availability.js';
import type { DuplicateSeq } from './duplicate-seqs.js';
import type { ServerFeatures } from './features.js';
import { connectNats, JetStreamEventStore } from './jetstream-store.js';
import { mergeByKey, mergeKeyOrdered } from './partition-merge.js';
import { PartitionReadAhead } from './partition-read-ahead.js';
import { assertPartitionCount, partitionOptions, recordPartitionCount } from './partition-layout.js';
import { spreadLeaders } from './leader-spread.js';
import { resolveOptions, type JetStreamStoreOptions } from './options.js';

export interface PartitionedStoreOptions extends JetStreamStoreOptions {
  /** How many partitions (JetStream streams) the log has: 1..64. */
  partitions: number;
}

export class PartitionedJetStreamStore implements EventStore {
  readonly kind = 'jetstream';
  readonly serverVersion: string;
  readonly features: ServerFeatures;
  private readonly listeners = new Set<FeedListener>();
  private unsubscribeParts: Array<() => void> = [];
  private closed = false;
  private readonly readAhead = new PartitionReadAhead();

  private constructor(
    /** The shared NATS connection; the store owns and closes it. */
    readonly nc: NatsConnection,
    private readonly parts: JetStreamEventStore[],
    /** The JetStream stream of each partition, in partition order. */
    readonly streamNames: string[],
  ) {
    this.serverVersion = parts[0]!.serverVersion;
    this.features = parts[0]!.features;
  }

  get partitions(): number {
    return this.parts.length;
  }

  /** Connects, checks the recorded partition count, opens every partition, spreads leaders. */
  static async connect(input: PartitionedStoreOptions): Promise<PartitionedJetStreamStore> {
    const n = assertCountValid(input.partitions);
    const options = resolveOptions(input);
    const nc = await connectNats(options);
    try {
      const jsm = await jetstreamManager(nc, { timeout: options.requestTimeoutMs });
      const first = partitionOptions(input, 0);
      const stream0 = resolveOptions(first).streamName;
      await withRetryBudget('check partition count', options.startupBudgetMs, () => assertPartitionCount(jsm, stream0, n));
      const parts: JetStreamEventStore[] = [];
      try {
        for (let p = 0; p < n; p++) parts.push(await JetStreamEventStore.attach(nc, partitionOptions(input, p)));
        await withRetryBudget('record partition count', options.startupBudgetMs, () => recordPartitionCount(jsm, stream0, n));
      } catch (err) {
        await Promise.all(parts.map((s) => s.close()));
        throw err;
      }
      parts[0]!.watchServerVersions();
      const names = Array.from({ length: n }, (_, p) => resolveOptions(partitionOptions(input, p)).streamName);
      if (n > 1 && options.replicas > 1) {
        await spreadLeaders(nc, jsm, names, options.requestTimeoutMs).catch((err) => options.onError(err));
      }
      return new PartitionedJetStreamStore(nc, parts, names);
    } catch (err) {
      await nc.close().catch(() => undefined);
      throw err;
    }
  }

  /** The partition of a store stream (partitions.ts). */
  partitionOf(stream: string): number {
    return partitionOf(stream, this.parts.length);
  }

  /** Rewrites partition `p`'s own positions as the log's (in place: the objects are fresh). */
  private globalize<T extends StoredEvent>(events: T[], p: number): T[] {
    const n = this.parts.length;
    if (n > 1) for (const e of events) e.position = partitionedPosition(e.position, p, n);
    return events;
  }

  async append(stream: string, events: NewEvent[], options: AppendOptions): Promise<AppendResult> {
    const p = this.partitionOf(stream);
    const result = await this.parts[p]!.append(stream, events, options);
    this.globalize(result.events, p);
    return result;
  }

  async readStream(stream: string, options?: ReadStreamOptions): Promise<StoredEvent[]> {
    const p = this.partitionOf(stream);
    return this.globalize(await this.parts[p]!.readStream(stream, options), p);
  }

  /** Whole-log read after a plain position: N = 1, or 0 (the start) for any N. */
  readAll(afterPosition: number, limit: number): Promise<StoredEvent[]> {
    try {
      return this.readAllAfter(LogCursor.decode(afterPosition, this.parts.length), limit);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * At most `limit` events not covered by `after`, each partition's in its order, the
   * partitions interleaved by event time. Whatever is cut off at `limit` is a suffix of
   * each partition's, so `after.advancedBy(result)` resumes without a gap.
   */
  async readAllAfter(after: LogCursor, limit: number): Promise<StoredEvent[]> {
    const n = this.parts.length;
    if (after.partitions !== n) throw new InvalidCursorError(`the cursor is for a log of ${after.partitions} partitions; this log has ${n}`);
    const reads = await Promise.all(
      this.parts.map(async (part, p) => {
        const from = after.after(p);
        const kept = this.readAhead.take(p, from);
        return kept ?? this.globalize(await part.readAll(localPositionOf(from, n), limit), p);
      }),
    );
    const merged = mergeByKey(reads, (e) => e.metadata.at, limit);
    this.keepUnreturned(after, reads, merged);
    return merged;
  }

  /** Keeps, per partition, what `reads` fetched past what `merged` returns (a prefix of each). */
  private keepUnreturned(after: LogCursor, reads: StoredEvent[][], merged: StoredEvent[]): void {
    const n = this.parts.length;
    const taken = new Array<number>(n).fill(0);
    for (const e of merged) taken[e.position % n]!++;
    reads.forEach((events, p) => {
      if (taken[p]! >= events.length) return;
      this.readAhead.keep(p, taken[p]! > 0 ? events[taken[p]! - 1]!.position : after.after(p), events.slice(taken[p]!));
    });
  }

  async streamVersion(stream: string): Promise<number> {
    return this.parts[this.partitionOf(stream)]!.streamVersion(stream);
  }

  /** The newest position of a one-partition log; with N > 1 there is none (use headCursor). */
  async headPosition(): Promise<number> {
    if (this.parts.length === 1) return this.parts[0]!.headPosition();
    throw new InvalidCursorError(`a log of ${this.parts.length} partitions has no single head position; use its head cursor`);
  }

  /** Per partition, the newest position: a cursor that covers every committed event. */
  async headCursor(): Promise<LogCursor> {
    const n = this.parts.length;
    const heads = await Promise.all(this.parts.map((part) => part.headPosition()));
    return LogCursor.start(n).advancedBy(heads.flatMap((local, p) => (local > 0 ? [{ position: partitionedPosition(local, p, n) }] : [])));
  }

  async findIdempotency(key: string): Promise<IdempotencyRecord | undefined> {
    const found = await Promise.all(this.parts.map((part) => part.findIdempotency(key)));
    return found.find((r) => r !== undefined);
  }

  idempotencyRecords(): AsyncIterable<IdempotencyRecord> {
    return mergeKeyOrdered(this.parts.map((part) => part.idempotencyRecords()));
  }

  /** Distinct envelopes skipped because an earlier one took their seq, over all partitions. */
  get duplicateSeqsSeen(): number {
    return this.parts.reduce((sum, part) => sum + part.duplicateSeqsSeen, 0);
  }

  async findDuplicateSeqs(onProgress?: (seq: number, last: number) => void): Promise<DuplicateSeq[]> {
    const found: DuplicateSeq[] = [];
    for (const part of this.parts) found.push(...(await part.findDuplicateSeqs(onProgress)));
    return found;
  }

  /**
   * One listener per partition feed (so positions are rewritten once per event), fanned
   * out here: a listener sees each partition's events in order, batches of different
   * partitions interleaved as they come.
   */
  subscribe(listener: FeedListener): () => void {
    this.listeners.add(listener);
    if (this.unsubscribeParts.length === 0 && !this.closed) {
      this.unsubscribeParts = this.parts.map((part, p) => part.subscribe((events) => this.fanOut(this.globalize(events, p))));
    }
    return () => {
      this.listeners.delete(listener);
    };
  }

  private fanOut(events: StoredEvent[]): void {
    for (const listener of this.listeners) {
      try {
        listener(events);
      } catch (err) {
        // As in each partition's feed: reported, and the feed and other listeners go on.
        console.error('event feed: a listener failed on a batch; the feed goes on', err);
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.readAhead.clear();
    for (const stop of this.unsubscribeParts) stop();
    this.listeners.clear();
    await Promise.all(this.parts.map((part) => part.close()));
    await this.nc.drain().catch(() => this.nc.close());
  }
}
