/**
 * The write side of the JetStream store: one append = one envelope published with the
 * subject's expected last sequence and a `Nats-Msg-Id`, resolved after the PubAck.
 *
 * Appends to one store stream from this instance are queued one after another, because
 * each needs the JetStream sequence the previous one got: pipelined appends at successive
 * versions cost one round trip each, while appends to different store streams run in
 * parallel. A cached tip that lags the server (another node appended) comes back as a
 * 10071 rejection; the tip is then re-read and, before anything is called a conflict, the
 * newer envelopes are searched for this append's own message (a retry after a lost ack)
 * or its idempotency key (the same command, already applied).
 *
 * An append that fails (or turns out a duplicate) takes down the appends with an expected
 * version that were queued behind it on the same stream: a command handler pipelines
 * commands decided on top of each other's events, and those must not land without them.
 */
import { JetStreamApiCodes, JetStreamApiError, type JetStreamClient } from '@nats-io/jetstream';
import type { AppendOptions, AppendResult, IdempotencyRecord, NewEvent } from '../port.js';
import { ConcurrencyError, StoreUnavailableError } from '../errors.js';
import { backoffDelay } from '../backoff.js';
import { withRetryBudget } from './availability.js';
import { encodeEnvelope, storedEventsOf, versionAfter, type Envelope } from './envelope.js';
import type { IdempotencyIndex } from './idempotency-index.js';
import type { JetStreamLog } from './jetstream-log.js';
import type { LiveFeed } from './live-feed.js';
import type { ResolvedOptions } from './options.js';
import { StreamTips, type Tip } from './stream-tips.js';
import type { SubjectSpace } from './subjects.js';

/**
 * The `Nats-Msg-Id` of an append. Keys and event ids live in separate namespaces so a
 * key can never collide with the id derived from another append's events.
 */
function messageIdOf(stream: string, events: NewEvent[], key: string | undefined): string {
  return key ? `k:${key}` : `e:${stream}:${events[0]?.id ?? 'empty'}`;
}

/**
 * A fresh `Nats-Msg-Id` for the same append: `k:<key>` becomes `k<n>:<key>` (index repair
 * reads the key after the first ':'), `e:…` becomes `e<n>:…`.
 */
export function rotatedMessageId(msgID: string, n: number): string {
  return `${msgID[0]}${n}${msgID.slice(1)}`;
}

/** How often one append re-reads a stale tip before giving up on 'any' races. */
const MAX_TIP_REFRESHES = 10;

export class StreamAppender {
  private readonly tips = new StreamTips(100_000);
  private readonly queues = new Map<string, Promise<unknown>>();
  /** Per stream: appends handed out, and the last one taken down by a failure before it. */
  private readonly tickets = new Map<string, { issued: number; poisonedUpTo: number }>();

  constructor(
    private readonly js: JetStreamClient,
    private readonly log: JetStreamLog,
    private readonly index: IdempotencyIndex,
    private readonly feed: LiveFeed,
    private readonly subjects: SubjectSpace,
    private readonly options: ResolvedOptions,
  ) {}

  append(stream: string, subject: string, events: NewEvent[], options: AppendOptions): Promise<AppendResult> {
    let tickets = this.tickets.get(stream);
    if (!tickets) this.tickets.set(stream, (tickets = { issued: 0, poisonedUpTo: 0 }));
    const ticket = ++tickets.issued;
    const t = tickets;
    const dependent = options.expectedVersion !== 'any';
    const previous = this.queues.get(stream) ?? Promise.resolve();
    const run = previous
      .then(() => {
        // Queued behind an append that failed: it was decided on top of that one's events,
        // so it must not land even if its expected version happens to match again.
        if (dependent && ticket <= t.poisonedUpTo) {
          throw new ConcurrencyError(stream, options.expectedVersion, this.tips.get(stream)?.version ?? -1);
        }
        return this.appendNow(stream, subject, events, options);
      })
      .then(
        (result) => {
          if (dependent && result.duplicate && events.length > 0) t.poisonedUpTo = t.issued;
          return result;
        },
        (err) => {
          if (dependent) t.poisonedUpTo = t.issued;
          throw err;
        },
      );
    const settled = run.catch(() => undefined);
    this.queues.set(stream, settled);
    void settled.then(() => {
      if (this.queues.get(stream) === settled) {
        this.queues.delete(stream);
        this.tickets.delete(stream);
      }
    });
    return run;
  }

  private async appendNow(stream: string, subject: string, events: NewEvent[], options: AppendOptions): Promise<AppendResult> {
    const key = options.idempotency?.key;
    if (key) {
      const prior = await withRetryBudget('find idempotency key', this.options.retryBudgetMs, () => this.findRecord(key, options.legacyKey));
      if (prior) return this.duplicateResult(stream, prior);
    }
    // The feed must exist before our message does, or a listener could miss it.
    await this.feed.ready;
    const msgID = messageIdOf(stream, events, key);
    // Set once a publish of this append was retried: an earlier attempt may have been
    // stored with only its ack lost, so a later rejection must look for it first.
    let uncertain = false;
    // When a duplicate ack first named no stored message (see below).
    let inFlightSince: number | undefined;
    let pendingDuplicates = 0;
    let publishId = msgID;
    for (let refresh = 0; ; refresh++) {
      let tip = await this.tipOf(stream, subject, refresh > 0);
      const expected = options.expectedVersion;
      if (expected !== 'any' && expected !== tip.version && tip.fresh && tip.firstSeq !== undefined && (expected > tip.version || tip.firstSeq <= expected)) {
        // The caller knows a version the last envelope cannot be on top of: that envelope
        // claims seqs the stream already had (a duplicate, see duplicate-seqs.ts) and its
        // own version is not the stream's. Ask the log which version stands, so the
        // conversation keeps taking appends instead of conflicting for good.
        const standing = await this.log.standingTipOf(subject, Math.min(expected, tip.firstSeq));
        this.tips.set(stream, standing);
        tip = { ...standing, fresh: true };
      }
      if (expected !== 'any' && expected !== tip.version) {
        // A cached tip can only lag the server: refresh once before calling it a conflict.
        if (!tip.fresh) continue;
        // Without a key nothing of ours can be in the log (we have not published yet);
        // with one, the same command may have landed from elsewhere.
        const own = key ? await this.findOwnOrDuplicate(subject, expected, msgID, events, key) : undefined;
        if (own) return own;
        throw new ConcurrencyError(stream, expected, tip.version);
      }
      // Nothing to write and no key to record: the version check was the whole append.
      if (events.length === 0 && !options.idempotency) return { stream, version: tip.version, events: [], duplicate: null };
      const envelope: Envelope = { v: 1, stream, firstSeq: tip.version + 1, events, ...(options.idempotency ? { idempotency: options.idempotency } : {}) };
      let ackSeq: number;
      let duplicate: boolean;
      try {
        const data = encodeEnvelope(envelope);
        let attempts = 0;
        const ack = await withRetryBudget('append', this.options.retryBudgetMs, () => {
          if (++attempts > 1) uncertain = true;
          return this.js.publish(subject, data, {
            msgID: publishId,
            expect: { lastSubjectSequence: tip.jetstreamSeq },
            timeout: this.options.requestTimeoutMs,
          });
        });
        ackSeq = ack.seq;
        duplicate = ack.duplicate;
      } catch (err) {
        if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamWrongLastSequence)) throw err;
        this.tips.forget(stream);
        // Our own earlier attempt (ack lost) or the same command from elsewhere may be
        // what moved the tip; either way the answer is that message, not a conflict.
        // Scanning costs a consumer, so only when one of those can be the case.
        const own = uncertain || key ? await this.findOwnOrDuplicate(subject, tip.version, msgID, events, key) : undefined;
        if (own) return own;
        if (refresh >= MAX_TIP_REFRESHES) throw new ConcurrencyError(stream, expected, (await this.tipOf(stream, subject, true)).version, { cause: err });
        continue;
      }
      if (duplicate) {
        // A duplicate ack names the message the server matched our Msg-Id to. Across a
        // leader change it may name none: the leader stages a Msg-Id with sequence 0 while
        // its proposal is in flight (and keeps it for the duplicate window if the proposal
        // was lost), or a sequence it has not applied yet. Then the outcome is unknown:
        // look for our message, wait, and publish again, within the retry budget.
        const original = ackSeq > 0 ? await this.log.envelopeIfPresent(ackSeq) : undefined;
        if (original) return this.answerFor(original, ackSeq, msgID, events, key);
        uncertain = true;
        this.tips.forget(stream);
        const own = await this.findOwnOrDuplicate(subject, tip.version, msgID, events, key);
        if (own) return own;
        inFlightSince ??= Date.now();
        // Staged Msg-Ids are only forgotten when the duplicate window ends (2 min), so a
        // publish whose proposal a dying leader dropped would be answered "duplicate, seq
        // 0" for that long. Once was a wait; twice, publish under a fresh Msg-Id: safe,
        // because every publish carries the expected last subject sequence, which the
        // servers check when they apply (2.9.21+ / 2.10+, see server-bugs.ts), so of the
        // staged and the fresh one at most one can land, and either is found as ours.
        if (++pendingDuplicates > 1) publishId = rotatedMessageId(msgID, pendingDuplicates - 1);
        if (Date.now() - inFlightSince > this.options.retryBudgetMs) {
          throw new StoreUnavailableError(
            `append to ${stream}: the server reports message ${msgID} as already published (duplicate ack at sequence ${ackSeq}) but it is not in the log after ${this.options.retryBudgetMs} ms`,
          );
        }
        await new Promise((r) => setTimeout(r, backoffDelay(refresh, { initialMs: 50, maxMs: 1000 })));
        continue;
      }
      const result: AppendResult = { stream, version: versionAfter(envelope), events: storedEventsOf(envelope, ackSeq), duplicate: null };
      this.tips.set(stream, { version: result.version, jetstreamSeq: ackSeq });
      this.log.hints.learn(subject, envelope.firstSeq, ackSeq);
      if (options.idempotency) await this.recordKey(options.idempotency, stream, ackSeq);
      return result;
    }
  }

  /** The index's record of the key or, failing that, of the legacy key (looked up in parallel). */
  private async findRecord(key: string, legacyKey: string | undefined): Promise<IdempotencyRecord | undefined> {
    const [current, legacy] = await Promise.all([this.index.find(key), legacyKey === undefined ? undefined : this.index.find(legacyKey)]);
    return current ?? legacy;
  }

  /** Looks through the envelopes after `afterVersion` for this append's own message or key. */
  private async findOwnOrDuplicate(subject: string, afterVersion: number, msgID: string, events: NewEvent[], key: string | undefined): Promise<AppendResult | undefined> {
    const newer = await this.log.envelopesOf(subject, afterVersion, 1000);
    for (const { envelope, jetstreamSeq } of newer) {
      const answer = await this.answerFor(envelope, jetstreamSeq, msgID, events, key, true);
      if (answer) return answer;
    }
    return undefined;
  }

  /** The result for an envelope that turned out to be this append's, or its key's. */
  private async answerFor(env: Envelope, jetstreamSeq: number, msgID: string, events: NewEvent[], key: string | undefined, optional?: false): Promise<AppendResult>;
  private async answerFor(env: Envelope, jetstreamSeq: number, msgID: string, events: NewEvent[], key: string | undefined, optional: true): Promise<AppendResult | undefined>;
  private async answerFor(env: Envelope, jetstreamSeq: number, msgID: string, events: NewEvent[], key: string | undefined, optional = false): Promise<AppendResult | undefined> {
    if (key && env.idempotency?.key === key) {
      const sameAppend = env.events.length === events.length && env.events.every((e, i) => e.id === events[i]?.id);
      if (sameAppend) {
        // Our own publish landed and only its ack was lost: a success, not a duplicate.
        await this.recordKey(env.idempotency, env.stream, jetstreamSeq);
        return { stream: env.stream, version: versionAfter(env), events: storedEventsOf(env, jetstreamSeq), duplicate: null };
      }
      // Found in the log, maybe not in the index (a lost KV write): repair it on the way.
      await this.recordKey(env.idempotency, env.stream, jetstreamSeq);
      return this.duplicateResult(env.stream, env.idempotency);
    }
    if (!key && messageIdOf(env.stream, env.events, undefined) === msgID) {
      return { stream: env.stream, version: versionAfter(env), events: storedEventsOf(env, jetstreamSeq), duplicate: null };
    }
    if (optional) return undefined;
    // The server matched our Msg-Id to a message that is neither ours nor our key's: a
    // caller reused an event id. Refuse rather than report someone else's events.
    throw new Error(`append to ${env.stream}: message id ${msgID} already used by another append`);
  }

  private async duplicateResult(stream: string, record: IdempotencyRecord): Promise<AppendResult> {
    return { stream, version: await this.versionOf(stream, this.subjects.subjectOf(stream)), events: [], duplicate: record };
  }

  private async recordKey(record: IdempotencyRecord, stream: string, jetstreamSeq: number): Promise<void> {
    const write = (budgetMs: number) => withRetryBudget('record idempotency key', budgetMs, () => this.index.record(record, stream, jetstreamSeq));
    try {
      // The ack waits for the index at most one request timeout: the events are durable
      // already and the key lives on in the envelope (inside the duplicate window the
      // server answers a repeat by itself; index-repair.ts re-indexes it well within that
      // window), so a slow index after an outage must not hold the ack for the full budget.
      await write(Math.min(this.options.retryBudgetMs, this.options.requestTimeoutMs));
    } catch {
      write(this.options.retryBudgetMs).catch((err) => this.options.onError(err));
    }
  }

  private async tipOf(stream: string, subject: string, fresh: boolean): Promise<Tip & { fresh: boolean }> {
    const cached = fresh ? undefined : this.tips.get(stream);
    if (cached) return { ...cached, fresh: false };
    const tip = await this.log.tipOf(subject);
    this.tips.set(stream, tip);
    return { ...tip, fresh: true };
  }

  /** The stream's current version, read from the server (and cached as its tip). */
  async versionOf(stream: string, subject: string): Promise<number> {
    return (await this.tipOf(stream, subject, true)).version;
  }

  /** Waits for every queued append to settle. */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.queues.values()]);
  }
}
