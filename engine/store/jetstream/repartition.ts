/**
 * `parley repartition --to M`: changing the partition count of a live log by copying it
 * into generation g+1 with M partitions, then switching (docs/scaling.md, "Changing N").
 *
 * 1. Tail: every source partition is copied (partition-copy.ts) while the old log keeps
 *    serving, pass after pass, until the copy is at most `switchLag` messages behind (or
 *    a pass gains nothing on the appends).
 * 2. Switch: the pointer goes to `switching` (compare-and-set): nodes refuse appends with
 *    a retryable `unavailable` (append-gate.ts). The source streams are then sealed, so an
 *    append in flight either landed before (and is copied) or is refused; the copy drains
 *    to the sealed ends; the pointer moves to g+1 (`live`). Nodes must be restarted to
 *    open it; their read models rebuild from the new log, whose positions differ.
 * 3. The new log's head cursor at the switch is returned: a consumer that had read the
 *    old log to its end resumes from it. The old streams stay until the operator removes them.
 *
 * Safe to run again after a crash at any point: progress per source partition is kept in
 * the pointer's bucket, the copy skips what it already copied, and a run that finds the
 * pointer `switching` resumes at the seal.
 */
import { jetstream, jetstreamManager, type JetStreamManager, type StreamUpdateConfig } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { headCursorOf } from '../log-cursor.js';
import { assertPartitionCount } from '../partitions.js';
import { withRetryBudget } from './availability.js';
import { IdempotencyIndex } from './idempotency-index.js';
import { connectNats } from './jetstream-store.js';
import { connectGeneration, currentPointer, generationOptions, generationStreams } from './log-generations.js';
import { ensurePointerBucket, movePointer, type GenerationRef, type LogPointer } from './log-pointer.js';
import { resolveOptions, type JetStreamStoreOptions } from './options.js';
import { PartitionCopy, type TargetPartition } from './partition-copy.js';
import { partitionOptions } from './partition-layout.js';
import { SubjectSpace } from './subjects.js';

export interface RepartitionOptions {
  /** The log's options (generation 0's names, as the node derives them). */
  base: JetStreamStoreOptions;
  /** The new partition count. */
  to: number;
  /** Switch once the copy is at most this many messages behind (default 100). */
  switchLag?: number;
  onProgress?: (report: RepartitionProgress) => void;
}

export interface RepartitionProgress {
  phase: 'copying' | 'switching' | 'switched';
  /** Source messages copied or skipped so far, and how many are still behind. */
  done: number;
  behind: number;
}

export interface RepartitionResult {
  from: GenerationRef;
  to: GenerationRef;
  copied: number;
  skipped: number;
  /** The new log's head cursor token at the switch. */
  headCursor: string;
}

export class RepartitionRefusedError extends Error {
  override readonly name = 'RepartitionRefusedError';
  readonly code = 'repartition_refused';
}

export async function repartition(input: RepartitionOptions): Promise<RepartitionResult> {
  const to = assertPartitionCount(input.to);
  const options = resolveOptions(input.base);
  const nc = await connectNats(options);
  try {
    const jsm = await jetstreamManager(nc, { timeout: options.requestTimeoutMs });
    return await new Repartition(nc, jsm, input, to).run();
  } finally {
    await nc.drain().catch(() => nc.close());
  }
}

class Repartition {
  private readonly options;
  private progress: number[] = [];

  constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly input: RepartitionOptions,
    private readonly to: number,
  ) {
    this.options = resolveOptions(input.base);
  }

  async run(): Promise<RepartitionResult> {
    const at = await currentPointer(this.nc, this.jsm, this.input.base);
    if (!at) throw new RepartitionRefusedError(`there is no log in ${this.options.streamName} to repartition`);
    const { from, next } = this.plan(at.pointer);
    const sources = generationStreams(this.input.base, from);
    const replicas = (await this.jsm.streams.info(sources[0]!)).config.num_replicas;
    const kv = await ensurePointerBucket(this.nc, this.options.streamName, replicas);
    // Opening the new generation creates its streams and indexes and records its count.
    const target = await connectGeneration({ ...this.input.base, replicas }, next.generation, next.partitions);
    try {
      const copies = await this.copies(sources, next, replicas);
      this.progress = await Promise.all(sources.map((_, p) => this.savedProgress(kv, next, p)));
      let revision = at.revision;
      if (at.pointer.state === 'live') {
        await this.tail(kv, next, copies);
        const switching: LogPointer = { ...from, state: 'switching', next };
        revision = await movePointer(kv, revision, switching);
      }
      this.report('switching', copies, 0);
      await this.seal(sources);
      await this.pass(kv, next, copies, await this.lastSeqs(sources));
      const headCursor = (await headCursorOf(target)).encode();
      await movePointer(kv, revision, { ...next, state: 'live' });
      this.report('switched', copies, 0);
      return { from, to: next, copied: sum(copies.map((c) => c.copied)), skipped: sum(copies.map((c) => c.skipped)), headCursor };
    } finally {
      await target.close();
    }
  }

  /** Where from and where to: a new generation, or the one a crashed run was switching to. */
  private plan(pointer: LogPointer): { from: GenerationRef; next: GenerationRef } {
    const from = { generation: pointer.generation, partitions: pointer.partitions };
    if (pointer.state === 'switching') {
      if (pointer.next!.partitions !== this.to) {
        throw new RepartitionRefusedError(
          `a repartition to ${pointer.next!.partitions} partition(s) is switching; run \`parley repartition --to ${pointer.next!.partitions}\` to finish it`,
        );
      }
      return { from, next: pointer.next! };
    }
    if (pointer.partitions === this.to) throw new RepartitionRefusedError(`the log already has ${this.to} partition(s)`);
    return { from, next: { generation: pointer.generation + 1, partitions: this.to } };
  }

  private async copies(sources: string[], next: GenerationRef, replicas: number): Promise<PartitionCopy[]> {
    const gen = generationOptions(this.input.base, next.generation);
    const targets: TargetPartition[] = [];
    for (let q = 0; q < next.partitions; q++) {
      const o = resolveOptions(partitionOptions(gen, q));
      const index = await IdempotencyIndex.open(this.nc, `${o.streamName}_IDEMPOTENCY`, replicas, o.requestTimeoutMs);
      targets.push({ stream: o.streamName, subjects: new SubjectSpace(o.subjectPrefix), index });
    }
    const js = jetstream(this.nc, { timeout: this.options.requestTimeoutMs });
    return sources.map((s) => new PartitionCopy(js, this.jsm, s, targets, this.options.retryBudgetMs, this.options.requestTimeoutMs));
  }

  /**
   * Copies pass after pass while the old log serves, until the rest is small, or until a
   * pass gains nothing (appends outpace the copy: waiting longer would not shorten the
   * switch, whose drain then takes the rest while appends are refused).
   */
  private async tail(kv: KV, next: GenerationRef, copies: PartitionCopy[]): Promise<void> {
    const switchLag = this.input.switchLag ?? 100;
    let before = Infinity;
    for (;;) {
      const lasts = await this.lastSeqs(copies.map((c) => c.source));
      const behind = sum(lasts.map((last, p) => Math.max(0, last - this.progress[p]!)));
      this.report('copying', copies, behind);
      if (behind <= switchLag || behind >= before) return;
      before = behind;
      await this.pass(kv, next, copies, lasts);
    }
  }

  /** Every source partition copied up to `lasts`, in parallel (they share no target subject). */
  private async pass(kv: KV, next: GenerationRef, copies: PartitionCopy[], lasts: number[]): Promise<void> {
    await Promise.all(
      copies.map((copy, p) =>
        copy.copyRange(this.progress[p]! + 1, lasts[p]!, async (done) => {
          this.progress[p] = done;
          await kv.put(progressKey(next, p), String(done));
          this.report('copying', copies, sum(lasts.map((last, i) => Math.max(0, last - this.progress[i]!))));
        }),
      ),
    );
  }

  /** Seals the old streams: from now on the server itself refuses appends to them. */
  private async seal(sources: string[]): Promise<void> {
    for (const s of sources) {
      await withRetryBudget('seal the old log', this.options.retryBudgetMs, async () => {
        const info = await this.jsm.streams.info(s);
        // nats.js' typings leave `sealed` out of updates; the server takes it (2.6.2+) and
        // it cannot be undone, which is the point: no append can land after the drain.
        if (!info.config.sealed) await this.jsm.streams.update(s, { sealed: true } as unknown as Partial<StreamUpdateConfig>);
      });
    }
  }

  private lastSeqs(sources: string[]): Promise<number[]> {
    return Promise.all(sources.map((s) => withRetryBudget('read the old log', this.options.retryBudgetMs, async () => (await this.jsm.streams.info(s)).state.last_seq)));
  }

  private async savedProgress(kv: KV, next: GenerationRef, p: number): Promise<number> {
    const entry = await kv.get(progressKey(next, p));
    return entry && entry.operation === 'PUT' ? Number(entry.string()) || 0 : 0;
  }

  private report(phase: RepartitionProgress['phase'], copies: PartitionCopy[], behind: number): void {
    this.input.onProgress?.({ phase, done: sum(copies.map((c) => c.copied + c.skipped)), behind });
  }
}

/** Where the copy of source partition `p` into generation `next` got to (a source seq). */
const progressKey = (next: GenerationRef, p: number): string => `copy.g${next.generation}.p${p}`;

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
