/**
 * The EventStore port over NATS JetStream (works on nats-server 2.9; see features.ts).
 *
 * Layout: one JetStream stream per event store, one subject per store stream
 * (subjects.ts), one message per append (envelope.ts). The durability point is the
 * PubAck: on file storage with R3 it means a quorum has the message.
 *
 * Concurrency: an append to a store stream at version V is published with
 * `Nats-Expected-Last-Subject-Sequence` = the JetStream sequence of that subject's last
 * envelope (0 for a new stream). The (version, sequence) pair of each subject's tip is
 * cached (stream-tips.ts); a stale tip shows up as a server-side 10071 rejection and is
 * refreshed with a last-by-subject lookup. Appends to one store stream from this instance
 * are queued one after another, because each needs the sequence the previous one got:
 * pipelined appends at successive versions therefore cost one round trip each, while
 * appends to different store streams run in parallel.
 *
 * De-duplication: every envelope has a `Nats-Msg-Id` — the idempotency key when there is
 * one (`k:<key>`), else `e:<stream>:<first event id>` — so retries after a lost ack are safe.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { JetStreamApiCodes, JetStreamApiError, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
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
import { ConcurrencyError } from '../errors.js';
import { withRetryBudget } from './availability.js';
import { decodeEnvelope, encodeEnvelope, MAX_EVENTS_PER_APPEND, storedEventsOf, versionAfter, type Envelope } from './envelope.js';
import { featuresOf, type ServerFeatures } from './features.js';
import { IdempotencyIndex } from './idempotency-index.js';
import { LiveFeed } from './live-feed.js';
import { JetStreamLog } from './jetstream-log.js';
import { resolveOptions, type JetStreamStoreOptions, type ResolvedOptions } from './options.js';
import { ensureStream } from './stream-setup.js';
import { SubjectSpace } from './subjects.js';
import { StreamTips, type Tip } from './stream-tips.js';

export class AppendTooLargeError extends Error {
  override readonly name = 'AppendTooLargeError';
  readonly code = 'append_too_large';
}

/**
 * The `Nats-Msg-Id` of an append. Keys and event ids live in separate namespaces so a
 * key can never collide with the id derived from another append's events.
 */
function messageIdOf(stream: string, events: NewEvent[], key: string | undefined): string {
  return key !== undefined ? `k:${key}` : `e:${stream}:${events[0]?.id ?? 'empty'}`;
}

/** How often one append re-reads a stale tip before giving up on 'any' races. */
const MAX_TIP_REFRESHES = 10;

export class JetStreamEventStore implements EventStore {
  readonly kind = 'jetstream';
  /** The connected server's version, e.g. '2.9.10'. */
  readonly serverVersion: string;
  readonly features: ServerFeatures;
  private readonly tips = new StreamTips(100_000);
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly feed: LiveFeed;
  private closed = false;

  private constructor(
    readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly log: JetStreamLog,
    private readonly index: IdempotencyIndex,
    private readonly subjects: SubjectSpace,
    private readonly options: ResolvedOptions,
  ) {
    this.serverVersion = nc.info?.version ?? '0.0.0';
    this.features = featuresOf(this.serverVersion);
    this.feed = new LiveFeed(js, log.jsm, options.streamName, (err) => options.onError(err), options.retryBudgetMs);
  }

  /** Connects (reconnecting forever in the background), ensures the stream, returns the store. */
  static async connect(input: JetStreamStoreOptions): Promise<JetStreamEventStore> {
    const options = resolveOptions(input);
    const nc = await connect({
      servers: options.servers,
      name: options.name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      timeout: options.requestTimeoutMs,
    });
    try {
      const js = jetstream(nc, { timeout: options.requestTimeoutMs });
      const jsm: JetStreamManager = await jetstreamManager(nc, { timeout: options.requestTimeoutMs });
      const subjects = new SubjectSpace(options.subjectPrefix);
      await withRetryBudget('create stream', options.retryBudgetMs, () =>
        ensureStream(jsm, {
          name: options.streamName,
          subject: subjects.wildcard,
          replicas: options.replicas,
          duplicateWindowMs: options.duplicateWindowMs,
        }),
      );
      const index = await withRetryBudget('open idempotency index', options.retryBudgetMs, () =>
        IdempotencyIndex.open(nc, `${options.streamName}_IDEMPOTENCY`, options.replicas, options.requestTimeoutMs),
      );
      const log = new JetStreamLog(js, jsm, options);
      return new JetStreamEventStore(nc, js, log, index, subjects, options);
    } catch (err) {
      await nc.close().catch(() => undefined);
      throw err;
    }
  }

  append(stream: string, events: NewEvent[], options: AppendOptions): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new Error('event store is closed'));
    if (events.length > MAX_EVENTS_PER_APPEND) {
      return Promise.reject(new AppendTooLargeError(`an append carries at most ${MAX_EVENTS_PER_APPEND} events`));
    }
    const subject = this.subjects.subjectOf(stream); // validates the name before queueing
    const previous = this.queues.get(stream) ?? Promise.resolve();
    const run = previous.then(() => this.appendNow(stream, subject, events, options));
    const settled = run.catch(() => undefined);
    this.queues.set(stream, settled);
    void settled.then(() => {
      if (this.queues.get(stream) === settled) this.queues.delete(stream);
    });
    return run;
  }

  private async appendNow(stream: string, subject: string, events: NewEvent[], options: AppendOptions): Promise<AppendResult> {
    const key = options.idempotency?.key;
    if (key) {
      const prior = await withRetryBudget('find idempotency key', this.options.retryBudgetMs, () => this.index.find(key));
      if (prior) return this.duplicateResult(stream, prior);
    }
    // The feed must exist before our message does, or a listener could miss it.
    await this.feed.ready;
    const msgID = messageIdOf(stream, events, key);
    for (let refresh = 0; ; refresh++) {
      const tip = await this.tipOf(stream, subject, refresh > 0);
      const expected = options.expectedVersion;
      if (expected !== 'any' && expected !== tip.version) {
        // A cached tip can only lag the server: refresh once before calling it a conflict.
        if (!tip.fresh) continue;
        // Without a key nothing of ours can be in the log (we have not published yet);
        // with one, the same command may have landed from elsewhere.
        const own = key ? await this.findOwnOrDuplicate(subject, expected, msgID, events, key) : undefined;
        if (own) return own;
        throw new ConcurrencyError(stream, expected, tip.version);
      }
      const envelope: Envelope = { v: 1, stream, firstSeq: tip.version + 1, events, ...(options.idempotency ? { idempotency: options.idempotency } : {}) };
      let ackSeq: number;
      let duplicate: boolean;
      try {
        const ack = await withRetryBudget('append', this.options.retryBudgetMs, () =>
          this.js.publish(subject, encodeEnvelope(envelope), {
            msgID,
            expect: { lastSubjectSequence: tip.jetstreamSeq },
            timeout: this.options.requestTimeoutMs,
          }),
        );
        ackSeq = ack.seq;
        duplicate = ack.duplicate;
      } catch (err) {
        if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamWrongLastSequence)) throw err;
        this.tips.forget(stream);
        // Our own earlier attempt (ack lost) or the same command from elsewhere may be
        // what moved the tip; either way the answer is that message, not a conflict.
        const own = await this.findOwnOrDuplicate(subject, tip.version, msgID, events, key);
        if (own) return own;
        if (refresh >= MAX_TIP_REFRESHES) throw new ConcurrencyError(stream, expected, (await this.tipOf(stream, subject, true)).version, { cause: err });
        continue;
      }
      if (duplicate) {
        const original = await this.log.envelopeAt(ackSeq);
        return this.answerFor(original, ackSeq, msgID, events, key);
      }
      const result: AppendResult = { stream, version: versionAfter(envelope), events: storedEventsOf(envelope, ackSeq), duplicate: null };
      this.tips.set(stream, { version: result.version, jetstreamSeq: ackSeq });
      if (options.idempotency) await this.recordKey(options.idempotency, stream, ackSeq);
      return result;
    }
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
      this.index.remember(env.idempotency);
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
    return { stream, version: await this.streamVersion(stream), events: [], duplicate: record };
  }

  private async recordKey(record: IdempotencyRecord, stream: string, jetstreamSeq: number): Promise<void> {
    try {
      await withRetryBudget('record idempotency key', this.options.retryBudgetMs, () => this.index.record(record, stream, jetstreamSeq));
    } catch (err) {
      // The events are durable already; the key lives on in the envelope (see the gap
      // described in idempotency-index.ts), so the append still succeeds.
      this.index.remember(record);
      this.options.onError(err);
    }
  }

  private async tipOf(stream: string, subject: string, fresh: boolean): Promise<Tip & { fresh: boolean }> {
    const cached = fresh ? undefined : this.tips.get(stream);
    if (cached) return { ...cached, fresh: false };
    const tip = await this.log.tipOf(subject);
    this.tips.set(stream, tip);
    return { ...tip, fresh: true };
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<StoredEvent[]> {
    const limit = options.limit ?? 1000;
    const subject = this.subjects.subjectOf(stream);
    if (options.beforeSeq !== undefined) {
      // Backwards = read the window [beforeSeq - limit, beforeSeq) forwards and reverse it:
      // costs one ordered consumer that skips over earlier envelopes of the stream.
      const from = Math.max(0, options.beforeSeq - 1 - limit);
      const events = await this.log.eventsOf(subject, from, options.beforeSeq - 1 - from);
      return events.filter((e) => e.seq < options.beforeSeq!).reverse().slice(0, limit);
    }
    return this.log.eventsOf(subject, options.afterSeq ?? 0, limit);
  }

  readAll(afterPosition: number, limit: number): Promise<StoredEvent[]> {
    return this.log.readAll(afterPosition, limit);
  }

  async streamVersion(stream: string): Promise<number> {
    return (await this.tipOf(stream, this.subjects.subjectOf(stream), true)).version;
  }

  headPosition(): Promise<number> {
    return this.log.headPosition();
  }

  findIdempotency(key: string): Promise<IdempotencyRecord | undefined> {
    return withRetryBudget('find idempotency key', this.options.retryBudgetMs, () => this.index.find(key));
  }

  subscribe(listener: FeedListener): () => void {
    return this.feed.subscribe(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.queues.values()]);
    await this.feed.close();
    await this.nc.drain().catch(() => this.nc.close());
  }
}
