/**
 * Copying one partition of the live generation into the next (`parley repartition`).
 *
 * Every envelope of the source stream is read in order and republished unchanged (same
 * bytes: same `firstSeq`, events and idempotency record) to the subject of its store
 * stream in the target partition that stream hashes to. A store stream lives in one
 * source partition and is copied in its order, so seqs stay dense and per-stream order is
 * kept. Each publish names the target subject's expected last sequence (nobody else may
 * write there) and carries `Nats-Msg-Id` = `c:<source stream>:<source seq>` plus the
 * header `Parley-Copied-From: <source seq>`.
 *
 * Restarts copy nothing twice: for each target subject the last copied envelope's header
 * says which source seq it came from, and anything at or before it is skipped (the
 * Msg-Id covers a publish whose ack was lost). Envelopes that lost their seq to an
 * earlier one (duplicate-seqs.ts) are not copied. Keyed envelopes are indexed in the
 * target partition's idempotency index as they are copied, so a retried command is found
 * on the new log.
 */
import { headers } from '@nats-io/transport-node';
import { JetStreamApiCodes, JetStreamApiError, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { BoundedMap } from '../bounded-map.js';
import { partitionOf } from '../partitions.js';
import { withRetryBudget } from './availability.js';
import { decodeEnvelope, versionAfter, type Envelope } from './envelope.js';
import type { IdempotencyIndex } from './idempotency-index.js';
import { readRange } from './message-reader.js';
import type { SubjectSpace } from './subjects.js';

export const COPIED_FROM = 'Parley-Copied-From';
/** Source messages read per consumer (and held in memory at once). */
const CHUNK = 500;

export interface TargetPartition {
  stream: string;
  subjects: SubjectSpace;
  index: IdempotencyIndex;
}

/** The last envelope copied to a target subject: its store version, JetStream seq and source seq. */
interface CopiedTip {
  version: number;
  jetstreamSeq: number;
  sourceSeq: number;
}

export class CopyGapError extends Error {
  override readonly name = 'CopyGapError';
  readonly code = 'copy_gap';
}

export class PartitionCopy {
  // Bounded: a log has as many subjects as conversations; an evicted tip is read again.
  private readonly tips = new BoundedMap<string, CopiedTip>(100_000);
  copied = 0;
  skipped = 0;

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    /** The source partition's JetStream stream. */
    readonly source: string,
    private readonly targets: TargetPartition[],
    private readonly retryBudgetMs: number,
    private readonly requestTimeoutMs: number,
  ) {}

  /** Copies source messages `from`..`until` in order; returns the last source seq handled. */
  async copyRange(from: number, until: number, onChunk: (done: number) => Promise<void>): Promise<number> {
    let next = from;
    while (next <= until) {
      const chunkEnd = Math.min(until, next + CHUNK - 1);
      const chunk: Array<{ seq: number; data: Uint8Array }> = [];
      await withRetryBudget('read the source partition', this.retryBudgetMs, async () => {
        chunk.length = 0;
        await readRange(this.js, this.source, { startSeq: next, untilSeq: chunkEnd, idleTimeoutMs: this.requestTimeoutMs }, (m) => {
          if (m.seq <= chunkEnd) chunk.push({ seq: m.seq, data: m.data });
          return false;
        });
      });
      for (const m of chunk) await this.copyOne(m.seq, m.data);
      next = chunkEnd + 1;
      await onChunk(chunkEnd);
    }
    return until;
  }

  private async copyOne(sourceSeq: number, data: Uint8Array): Promise<void> {
    const env = decodeEnvelope(data, sourceSeq);
    const target = this.targets[partitionOf(env.stream, this.targets.length)]!;
    const subject = target.subjects.subjectOf(env.stream);
    const tip = await this.tipOf(target, subject);
    if (sourceSeq <= tip.sourceSeq) {
      // Copied before a restart, which may have come between the publish and the index write.
      await this.index(target, env, tip.jetstreamSeq, true);
      return void this.skipped++;
    }
    if (env.firstSeq <= tip.version) {
      // Lost its seq to an earlier envelope: readers skip it, so the copy does too. Its key
      // is indexed still, as the source's index repair would have.
      await this.index(target, env, tip.jetstreamSeq);
      return void this.skipped++;
    }
    if (env.firstSeq !== tip.version + 1) {
      throw new CopyGapError(`${this.source} message ${sourceSeq}: ${env.stream} continues at seq ${env.firstSeq} but the copy has it at ${tip.version}`);
    }
    const h = headers();
    h.set(COPIED_FROM, String(sourceSeq));
    const ack = await withRetryBudget('copy an envelope', this.retryBudgetMs, () =>
      this.js.publish(subject, data, {
        msgID: `c:${this.source}:${sourceSeq}`,
        expect: { lastSubjectSequence: tip.jetstreamSeq },
        headers: h,
        timeout: this.requestTimeoutMs,
      }),
    );
    // A duplicate ack (a retry after a lost ack) names the stored original's sequence.
    const stored: CopiedTip = { version: versionAfter(env), jetstreamSeq: ack.seq, sourceSeq };
    this.tips.set(subject, stored);
    await this.index(target, env, stored.jetstreamSeq);
    this.copied++;
  }

  /** Indexes the envelope's key (if `missingOnly`, only when not indexed yet: a lookup is cheaper than a write). */
  private async index(target: TargetPartition, env: Envelope, jetstreamSeq: number, missingOnly = false): Promise<void> {
    const record = env.idempotency;
    if (!record) return;
    await withRetryBudget('index an idempotency key', this.retryBudgetMs, async () => {
      if (missingOnly && (await target.index.find(record.key))) return;
      await target.index.record(record, env.stream, jetstreamSeq);
    });
  }

  /** What the target subject holds: read from the server once, then kept as the copy writes. */
  private async tipOf(target: TargetPartition, subject: string): Promise<CopiedTip> {
    const cached = this.tips.get(subject);
    if (cached) return cached;
    const m = await withRetryBudget('read a copied tip', this.retryBudgetMs, async () => {
      try {
        return await this.jsm.streams.getMessage(target.stream, { last_by_subj: subject });
      } catch (err) {
        if (err instanceof JetStreamApiError && (err.code === JetStreamApiCodes.NoMessageFound || err.status === 404)) return null;
        throw err;
      }
    });
    const tip: CopiedTip = m
      ? { version: versionAfter(decodeEnvelope(m.data, m.seq)), jetstreamSeq: m.seq, sourceSeq: Number(m.header?.get(COPIED_FROM)) || 0 }
      : { version: 0, jetstreamSeq: 0, sourceSeq: 0 };
    this.tips.set(subject, tip);
    return tip;
  }
}
