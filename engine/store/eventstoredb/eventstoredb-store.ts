/**
 * The EventStore port over EventStoreDB / KurrentDB (`@eventstore/db-client`, gRPC).
 *
 * Layout (names.ts): one EventStoreDB stream per port stream (`parley-conversation-<id>`),
 * one Parley event per EventStoreDB event (event-data.ts), seq = revision + 1 and position
 * = the event's prepare position in the transaction log (positions.ts). Concurrency is EventStoreDB's own expected revision;
 * appends to one stream go one at a time, with the port's take-down (append-queue.ts).
 * Idempotency: the record on the first event, key-derived event ids and an index stream
 * per key (idempotency-index.ts), repaired from the log (index-repair.ts). The durability
 * point is the server's append answer: written to its log (and, in a cluster, to a quorum).
 * The live feed is one server-filtered `$all` subscription (live-feed.ts); catch-up reads
 * of `$all` are server-filtered too (filtered-reads.ts).
 */
import { EventStoreDBClient } from '@eventstore/db-client';
import { BoundedMap } from '../bounded-map.js';
import { ConcurrencyError, StoreUnavailableError } from '../errors.js';
import type { AppendOptions, AppendResult, EventStore, FeedListener, IdempotencyRecord, NewEvent, ReadStreamOptions, StoredEvent } from '../port.js';
import { AppendQueue } from './append-queue.js';
import { checkConnectionOptions } from './connection-string.js';
import { keyedEventId, toEventData, idempotencyOf } from './event-data.js';
import { EventStoreDbError, connectionStringError, isWrongExpectedVersion, startupError, translateError } from './errors.js';
import { IdempotencyIndex, recordOf, type IndexEntry } from './idempotency-index.js';
import { idempotencyRecordsIn } from './idempotency-records.js';
import { repairIndex } from './index-repair.js';
import { LiveFeed } from './live-feed.js';
import { endOfAll, readAllOf } from './filtered-reads.js';
import { esStreamVersion, lastPosition, readEsStream, storedOf } from './log-reads.js';
import { esStreamOf, isEventStream, namesFor, type Names } from './names.js';
import { endPositionOf, expectedRevisionOf, positionOf, versionOfRevision } from './positions.js';

export interface EventStoreDbStoreOptions {
  /** A connection string: `esdb://host:2113?tls=false`, `esdb+discover://user:pass@cluster:2113`, … */
  url: string;
  /** Keeps this log apart from other data in the database (default `parley`). */
  namespace?: string;
  /** Appends waiting in the whole store before new ones are refused (default 10,000). */
  maxQueuedAppends?: number;
  /** Between idempotency index repairs (default 60 s). */
  repairIntervalMs?: number;
  /**
   * How long the first read at connect may take (default 10 s): a server that accepts the
   * connection but never answers is a start-up error, not a node that waits forever.
   */
  connectTimeoutMs?: number;
  /**
   * How long one append or read may wait for the server (default 15 s) before it fails with
   * StoreUnavailableError: a silent server must not hold a stream's queue for ever. A timed-out
   * append may still land; the appends queued behind it are taken down, and a retry of a
   * keyed one is recognised (idempotency-index.ts).
   */
  requestTimeoutMs?: number;
  /** Background errors: feed hiccups, failed repairs. */
  onError?: (err: Error) => void;
}

/** How far a retry at a stale version looks for its own earlier append among newer events. */
const RETRY_LOOKBACK = 1000;

export class EventStoreDbEventStore implements EventStore {
  readonly kind = 'eventstoredb';
  private readonly queue: AppendQueue<AppendResult>;
  // The stream versions last seen, for the take-down errors' `actual`.
  private readonly tips = new BoundedMap<string, number>(10_000);
  private readonly repairTimer: NodeJS.Timeout;
  private repairing: Promise<unknown> | undefined;
  private closed = false;
  // Aborted on close: gives up on every read still waiting (log-reads.ts), the repair's included.
  private readonly lifetime = new AbortController();

  private constructor(
    private readonly client: EventStoreDBClient,
    private readonly names: Names,
    private readonly index: IdempotencyIndex,
    private readonly feed: LiveFeed,
    private readonly options: EventStoreDbStoreOptions,
  ) {
    this.queue = new AppendQueue<AppendResult>(
      options.maxQueuedAppends ?? 10_000,
      (r) => r.duplicate !== null,
      (stream, cause) => (cause instanceof ConcurrencyError ? cause.actual : (this.tips.get(stream) ?? 0)),
    );
    this.repairTimer = setInterval(() => this.repair(), options.repairIntervalMs ?? 60_000);
    this.repairTimer.unref();
  }

  /** Connects, checks the server answers, repairs the idempotency index and starts the feed. */
  static async connect(options: EventStoreDbStoreOptions): Promise<EventStoreDbEventStore> {
    const names = namesFor(options.namespace);
    let client: EventStoreDBClient;
    checkConnectionOptions(options.url);
    try {
      client = EventStoreDBClient.connectionString(options.url);
    } catch (err) {
      throw connectionStringError(options.url, err);
    }
    try {
      // The end of `$all` now: the feed starts after it, and reading it proves the server answers.
      const end = await answerWithin((signal) => endOfAll(client, signal), options.connectTimeoutMs ?? 10_000);
      const feedStart = end ? endPositionOf(end.position) : 0;
      const index = new IdempotencyIndex(client, names);
      const feed = new LiveFeed(client, names, feedStart, options.onError ?? (() => undefined));
      const store = new EventStoreDbEventStore(client, names, index, feed, options);
      feed.start();
      // Before the first append: a key a crashed node left unindexed is found again. Its
      // failure (reported) does not stop the node; the periodic repair tries again.
      await store.repair();
      return store;
    } catch (err) {
      await client.dispose().catch(() => undefined);
      throw startupError(options.url, err);
    }
  }

  append(stream: string, events: NewEvent[], options: AppendOptions): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new StoreUnavailableError('the EventStoreDB store is closed'));
    return this.queue.enqueue(stream, { expected: options.expectedVersion, run: () => this.timed((signal) => this.appendNow(stream, events, options, signal)) });
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<StoredEvent[]> {
    const limit = options.limit ?? 1000;
    const es = esStreamOf(this.names, stream);
    const read =
      options.beforeSeq !== undefined
        ? { fromSeq: options.beforeSeq - 1, direction: 'backwards' as const, limit }
        : { fromSeq: (options.afterSeq ?? 0) + 1, direction: 'forwards' as const, limit };
    return storedOf(await this.timed((signal) => readEsStream(this.client, es, read, signal)), stream);
  }

  readAll(afterPosition: number, limit: number): Promise<StoredEvent[]> {
    return this.timed((signal) => readAllOf(this.client, this.names, afterPosition, limit, signal));
  }

  async streamVersion(stream: string): Promise<number> {
    return this.timed((signal) => esStreamVersion(this.client, esStreamOf(this.names, stream), signal));
  }

  headPosition(): Promise<number> {
    return this.timed((signal) => lastPosition(this.client, (s) => isEventStream(this.names, s), signal));
  }

  async findIdempotency(key: string): Promise<IdempotencyRecord | undefined> {
    const entry = await this.timed((signal) => this.index.find(key, signal));
    return entry && recordOf(entry);
  }

  idempotencyRecords(): AsyncIterable<IdempotencyRecord> {
    return idempotencyRecordsIn(this.client, this.names, this.lifetime.signal);
  }

  subscribe(listener: FeedListener): () => void {
    return this.feed.subscribe(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.repairTimer);
    this.queue.rejectAll(new StoreUnavailableError('the EventStoreDB store is closed'));
    this.lifetime.abort();
    await this.feed.close();
    await this.repairing?.catch(() => undefined);
    await this.client.dispose().catch(() => undefined);
  }

  /** Runs a repair unless one runs; its failure goes to onError (the timer must not throw). */
  repair(): Promise<unknown> {
    if (this.closed || this.repairing) return this.repairing ?? Promise.resolve();
    this.repairing = repairIndex(this.client, this.names, this.index, this.lifetime.signal)
      .catch((err: unknown) => this.options.onError?.(translateError(err, 'idempotency index repair')))
      .finally(() => (this.repairing = undefined));
    return this.repairing;
  }

  private timed<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return answerWithin(work, this.options.requestTimeoutMs ?? 15_000, this.lifetime.signal);
  }

  private async appendNow(stream: string, events: NewEvent[], options: AppendOptions, signal: AbortSignal): Promise<AppendResult> {
    const { expectedVersion: expected, idempotency } = options;
    if (idempotency) {
      const seen =
        (await this.index.find(idempotency.key, signal)) ?? (options.legacyKey !== undefined ? await this.index.find(options.legacyKey, signal) : undefined);
      if (seen) return duplicateOf(stream, seen);
    }
    if (events.length === 0) return this.appendNothing(stream, expected, idempotency, signal);
    const es = esStreamOf(this.names, stream);
    let nextRevision: bigint;
    let position: number | undefined;
    try {
      const result = await this.client.appendToStream(es, toEventData(events, idempotency), { expectedRevision: expectedRevisionOf(expected) });
      // Only under throwOnAppendFailure=false, which connect refuses: never report a write that did not happen.
      if (!result.success) throw new EventStoreDbError(`EventStoreDB refused the append to ${es} without an error (is throwOnAppendFailure=false set?)`);
      nextRevision = result.nextExpectedRevision;
      if (events.length === 1 && result.position) position = positionOf(result.position);
    } catch (err) {
      if (idempotency && isWrongExpectedVersion(err)) {
        const earlier = await this.findOwnAppend(stream, idempotency.key, expected, signal);
        if (earlier) return duplicateOf(stream, await this.index.record(earlier, signal));
      }
      const translated = translateError(err, `append to ${es}`, stream, expected);
      if (translated instanceof ConcurrencyError) this.tips.set(stream, translated.actual);
      throw translated;
    }
    const version = versionOfRevision(nextRevision);
    this.tips.set(stream, version);
    const firstSeq = version - events.length + 1;
    const stored =
      position !== undefined
        ? [{ stream, seq: firstSeq, position, id: events[0]!.id, type: events[0]!.type, data: events[0]!.data, metadata: events[0]!.metadata }]
        : storedOf(await readEsStream(this.client, es, { fromSeq: firstSeq, direction: 'forwards', limit: events.length }, signal), stream);
    if (idempotency) await this.index.record({ ...idempotency, stream, version }, signal);
    return { stream, version, events: stored, duplicate: null };
  }

  /** An append with no events: checks the version, and records a key-only append's key. */
  private async appendNothing(
    stream: string,
    expected: AppendOptions['expectedVersion'],
    idempotency: IdempotencyRecord | undefined,
    signal: AbortSignal,
  ): Promise<AppendResult> {
    const version = await esStreamVersion(this.client, esStreamOf(this.names, stream), signal);
    if (expected !== 'any' && expected !== version) throw new ConcurrencyError(stream, expected, version);
    if (!idempotency) return { stream, version, events: [], duplicate: null };
    const entry = { ...idempotency, stream, version };
    const standing = await this.index.record(entry, signal);
    return standing === entry ? { stream, version, events: [], duplicate: null } : duplicateOf(stream, standing);
  }

  /**
   * A keyed append refused for a stale version may be the retry of one that landed (its
   * answer lost): its events, with ids derived from the key, are then among the stream's
   * newer events.
   */
  private async findOwnAppend(stream: string, key: string, expected: AppendOptions['expectedVersion'], signal: AbortSignal): Promise<IndexEntry | undefined> {
    const after = expected === 'any' ? 0 : expected;
    const read = { fromSeq: after + 1, direction: 'forwards' as const, limit: RETRY_LOOKBACK };
    const events = await readEsStream(this.client, esStreamOf(this.names, stream), read, signal);
    const first = events.findIndex((e) => e.id === keyedEventId(key, 0));
    const record = first >= 0 ? idempotencyOf(events[first]!) : undefined;
    if (!record || record.key !== key) return undefined;
    let last = first;
    while (events[last + 1]?.id === keyedEventId(key, last + 1 - first)) last++;
    return { ...record, stream, version: after + last + 1 };
  }
}

/**
 * The work's answer, or a StoreUnavailableError once `ms` pass, when the work's reads are
 * also given up on (its signal aborts; so it does when `parent` does): the client sets no
 * deadline on reads nor on its first handshake, so a server that accepts and stays silent
 * would hold a caller, and the read, for ever.
 */
function answerWithin<T>(work: (signal: AbortSignal) => Promise<T>, ms: number, parent?: AbortSignal): Promise<T> {
  const abort = new AbortController();
  const giveUp = () => abort.abort();
  if (parent?.aborted) giveUp();
  parent?.addEventListener('abort', giveUp, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abort.abort();
      reject(new StoreUnavailableError(`EventStoreDB gave no answer within ${ms} ms`));
    }, ms);
  });
  return Promise.race([work(abort.signal), timeout]).finally(() => {
    clearTimeout(timer);
    parent?.removeEventListener('abort', giveUp);
  });
}

function duplicateOf(stream: string, entry: IndexEntry): AppendResult {
  return { stream, version: entry.version, events: [], duplicate: recordOf(entry) };
}
