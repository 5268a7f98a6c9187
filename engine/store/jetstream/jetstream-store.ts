/**
 * The EventStore port over NATS JetStream (works on nats-server 2.9; see features.ts).
 *
 * Layout: one JetStream stream per event store, one subject per store stream
 * (subjects.ts), one message per append (envelope.ts), idempotency keys indexed in a KV
 * bucket (idempotency-index.ts). The durability point is the PubAck: on file storage with
 * R3 it means a quorum of servers has the message.
 *
 * Concurrency: an append to a store stream at version V is published with
 * `Nats-Expected-Last-Subject-Sequence` = the JetStream sequence of that subject's last
 * envelope (0 for a new stream); see stream-appender.ts.
 *
 * De-duplication: every envelope has a `Nats-Msg-Id` — `k:<idempotency key>` when there
 * is one, else `e:<stream>:<first event id>` — so retries after a lost ack are safe.
 *
 * Reads: point lookups via the leader's MSG.GET, ranges via short-lived ordered consumers
 * (jetstream-log.ts); the live feed is one ordered consumer per instance (live-feed.ts).
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
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
import { withRetryBudget } from './availability.js';
import { DuplicateReporter, StandingFilter, type DuplicateSeq } from './duplicate-seqs.js';
import { MAX_EVENTS_PER_APPEND } from './envelope.js';
import { featuresOf, type ServerFeatures } from './features.js';
import { IdempotencyIndex } from './idempotency-index.js';
import { idempotencyRecordsIn } from './idempotency-records.js';
import { JetStreamLog } from './jetstream-log.js';
import { LiveFeed } from './live-feed.js';
import { resolveOptions, type JetStreamStoreOptions, type ResolvedOptions } from './options.js';
import { repairIndex } from './index-repair.js';
import { StreamAppender } from './stream-appender.js';
import { assertServerSafeFor, serverBugsFor, UnsafeServerVersionError } from './server-bugs.js';
import { ensureStream } from './stream-setup.js';
import { SubjectSpace } from './subjects.js';

/** A NATS connection as the store wants it: reconnecting forever, failing requests fast. */
export function connectNats(options: ResolvedOptions): Promise<NatsConnection> {
  return connect({
    ...options.security,
    servers: options.servers,
    name: options.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    timeout: options.requestTimeoutMs,
    // Async stack traces cost an Error per request (6–9% of the node's time in the cluster bench).
    noAsyncTraces: true,
  });
}

export class AppendTooLargeError extends Error {
  override readonly name = 'AppendTooLargeError';
  readonly code = 'append_too_large';
}

export class JetStreamEventStore implements EventStore {
  readonly kind = 'jetstream';
  /** The connected server's version, e.g. '2.9.10'. */
  readonly serverVersion: string;
  readonly features: ServerFeatures;
  private readonly feed: LiveFeed;
  private readonly appender: StreamAppender;
  private readonly repairTimer: NodeJS.Timeout;
  private repairing = false;
  private closed = false;

  private constructor(
    /** The NATS connection, for diagnostics and tests; the store owns and closes it. */
    readonly nc: NatsConnection,
    private readonly log: JetStreamLog,
    private readonly index: IdempotencyIndex,
    private readonly subjects: SubjectSpace,
    private readonly options: ResolvedOptions,
    private readonly ownsConnection: boolean,
  ) {
    this.serverVersion = nc.info?.version ?? '0.0.0';
    this.features = featuresOf(this.serverVersion);
    this.feed = new LiveFeed(
      log.js,
      log.jsm,
      options.streamName,
      (err) => options.onError(err),
      options.retryBudgetMs,
      new StandingFilter(log.duplicates.report, 100_000),
    );
    this.appender = new StreamAppender(log.js, log, index, this.feed, subjects, options);
    this.repairTimer = setInterval(() => void this.repairIndex(), options.indexRepairIntervalMs);
    this.repairTimer.unref();
    if (ownsConnection) this.watchServerVersions();
  }

  /**
   * The version check at connect sees one server. In a cluster being upgraded, a
   * reconnect can land on an older one: that is reported as an error (it cannot be refused
   * any more), so a mixed cluster does not go unnoticed. Called once per connection (the
   * owner of a shared connection calls it on one of its stores).
   */
  watchServerVersions(): void {
    (async () => {
      for await (const s of this.nc.status()) {
        if (s.type !== 'reconnect') continue;
        const version = this.nc.info?.version ?? '0.0.0';
        const bugs = serverBugsFor(version, this.options.replicas);
        if (bugs.length > 0) this.options.onError(new UnsafeServerVersionError(version, this.options.replicas, bugs));
      }
    })().catch(() => undefined);
  }

  /** Re-indexes idempotency keys found in the log after the shared checkpoint. */
  private async repairIndex(): Promise<void> {
    if (this.repairing || this.closed) return;
    this.repairing = true;
    try {
      await repairIndex(this.log, this.index, this.options.requestTimeoutMs);
    } catch (err) {
      this.options.onError(err);
    } finally {
      this.repairing = false;
    }
  }

  /** Connects (reconnecting forever in the background), ensures the stream, returns the store. */
  static async connect(input: JetStreamStoreOptions): Promise<JetStreamEventStore> {
    const options = resolveOptions(input);
    const nc = await connectNats(options);
    try {
      return await JetStreamEventStore.open(nc, options, true);
    } catch (err) {
      await nc.close().catch(() => undefined);
      throw err;
    }
  }

  /**
   * A store over `nc`, which the caller keeps owning (closing the store leaves it open):
   * for several stores on one connection, as the partitions of one log are.
   */
  static attach(nc: NatsConnection, input: JetStreamStoreOptions): Promise<JetStreamEventStore> {
    return JetStreamEventStore.open(nc, resolveOptions(input), false);
  }

  private static async open(nc: NatsConnection, options: ResolvedOptions, ownsConnection: boolean): Promise<JetStreamEventStore> {
    // Before anything is created: a replicated log on a server with a known
    // concurrency bug would lose or double acknowledged appends (server-bugs.ts).
    assertServerSafeFor(nc.info?.version ?? '0.0.0', options.replicas);
    const js = jetstream(nc, { timeout: options.requestTimeoutMs });
    const jsm = await jetstreamManager(nc, { timeout: options.requestTimeoutMs });
    const subjects = new SubjectSpace(options.subjectPrefix);
    await withRetryBudget('create stream', options.startupBudgetMs, () =>
      ensureStream(jsm, {
        name: options.streamName,
        subject: subjects.wildcard,
        replicas: options.replicas,
        duplicateWindowMs: options.duplicateWindowMs,
      }),
    );
    const index = await withRetryBudget('open idempotency index', options.startupBudgetMs, () =>
      IdempotencyIndex.open(nc, `${options.streamName}_IDEMPOTENCY`, options.replicas, options.requestTimeoutMs),
    );
    const log = new JetStreamLog(js, jsm, options, new DuplicateReporter(options.onError));
    // Keys whose index write was lost by a crashed node are findable once we are up.
    await withRetryBudget('repair idempotency index', options.startupBudgetMs, () => repairIndex(log, index, options.requestTimeoutMs));
    return new JetStreamEventStore(nc, log, index, subjects, options, ownsConnection);
  }

  append(stream: string, events: NewEvent[], options: AppendOptions): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new Error('event store is closed'));
    if (events.length > MAX_EVENTS_PER_APPEND) {
      return Promise.reject(new AppendTooLargeError(`an append carries at most ${MAX_EVENTS_PER_APPEND} events`));
    }
    const subject = this.subjects.subjectOf(stream); // validates the name before queueing
    return this.appender.append(stream, subject, events, options);
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
    return this.appender.versionOf(stream, this.subjects.subjectOf(stream));
  }

  headPosition(): Promise<number> {
    return this.log.headPosition();
  }

  /** Distinct envelopes this instance skipped because an earlier one took their seq. */
  get duplicateSeqsSeen(): number {
    return this.log.duplicates.count;
  }

  /** Scans the whole log for envelopes that lose their seq to an earlier one (for `parley verify`). */
  findDuplicateSeqs(onProgress?: (seq: number, last: number) => void): Promise<DuplicateSeq[]> {
    return this.log.duplicateSeqs(onProgress);
  }

  findIdempotency(key: string): Promise<IdempotencyRecord | undefined> {
    return withRetryBudget('find idempotency key', this.options.retryBudgetMs, () => this.index.find(key));
  }

  idempotencyRecords(): AsyncIterable<IdempotencyRecord> {
    return idempotencyRecordsIn(this.log, this.options);
  }

  subscribe(listener: FeedListener): () => void {
    return this.feed.subscribe(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.repairTimer);
    await this.appender.drain();
    await this.feed.close();
    if (this.ownsConnection) await this.nc.drain().catch(() => this.nc.close());
  }
}
