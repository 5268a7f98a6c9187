/**
 * The EventStore port: what every adapter (embedded SQLite, NATS JetStream, EventStoreDB)
 * promises. `test/contract/event-store.contract.ts` checks these promises against any
 * adapter.
 *
 * - Streams are named `conversation-<id>`, `user-<id>`, `node-<id>`.
 * - `seq` is dense per stream (1, 2, 3, …), `position` is monotonic across the store.
 * - An append states the version it expects; a mismatch rejects with ConcurrencyError and
 *   appends nothing. Appends with an expected version that were queued behind a failed
 *   (or duplicate) append on the same stream reject too: they were decided on top of it.
 * - An append that carries an idempotency key records it with the events, atomically;
 *   appending the same key again returns the first result and appends nothing. The check
 *   happens inside the append, so callers need not look the key up first.
 * - `append` resolves only once the events are durable.
 */
export interface EventMetadata {
  actor: string;
  commandId: string;
  /** The request or command correlation id; equal to commandId unless a caller sets one. */
  correlationId: string;
  /** Milliseconds since the epoch. */
  at: number;
  schemaVersion: number;
}

export interface NewEvent {
  id: string;
  type: string;
  data: unknown;
  metadata: EventMetadata;
}

export interface StoredEvent<T = unknown> {
  stream: string;
  seq: number;
  position: number;
  id: string;
  type: string;
  data: T;
  metadata: EventMetadata;
}

/** A number is the stream's current version (0 = the stream must not exist yet). */
export type ExpectedVersion = number | 'any';

export interface IdempotencyRecord {
  key: string;
  /** A digest of the command, so a reused key with another command can be told apart. */
  fingerprint: string;
  result: unknown;
}

export interface AppendOptions {
  expectedVersion: ExpectedVersion;
  idempotency?: IdempotencyRecord;
  /**
   * Another key the same command may have been recorded under (an older key form): an
   * append whose `idempotency.key` is new but whose legacy key is recorded is a duplicate
   * too. Looked up only, never recorded; ignored without `idempotency`.
   */
  legacyKey?: string;
  /**
   * JSON merge patches (RFC 7396) for earlier events of the same stream, by seq, applied
   * to their stored data in the same transaction as the append (erasing content). Only a
   * store that can rewrite its log applies them (the embedded one); the others ignore
   * them and their readers redact on the way out (engine/domain/redaction.ts).
   */
  patches?: ReadonlyArray<{ seq: number; patch: Readonly<Record<string, unknown>> }>;
}

export interface AppendResult {
  stream: string;
  /** The stream's version after the append (or after the original append, if duplicate). */
  version: number;
  events: StoredEvent[];
  /** The key had been recorded before: nothing was appended; `record` is the original. */
  duplicate: IdempotencyRecord | null;
}

export interface ReadStreamOptions {
  /** Exclusive lower bound when reading forwards (default 0). */
  afterSeq?: number;
  /** Exclusive upper bound; when set, reads backwards from it. */
  beforeSeq?: number;
  limit?: number;
}

export type FeedListener = (events: StoredEvent[]) => void;

export interface EventStore {
  /** 'sqlite' | 'jetstream' | 'eventstoredb' */
  readonly kind: string;
  append(stream: string, events: NewEvent[], options: AppendOptions): Promise<AppendResult>;
  /** Events of one stream in seq order (ascending, or descending with beforeSeq). */
  readStream(stream: string, options?: ReadStreamOptions): Promise<StoredEvent[]>;
  /** Events of every stream in position order, after `afterPosition`. */
  readAll(afterPosition: number, limit: number): Promise<StoredEvent[]>;
  streamVersion(stream: string): Promise<number>;
  /** The position of the newest event in the store (0 when empty). */
  headPosition(): Promise<number>;
  findIdempotency(key: string): Promise<IdempotencyRecord | undefined>;
  /**
   * Every recorded idempotency record, each key once, in key order (UTF-8 byte order, as
   * SQLite's BINARY collation sorts): for tools that copy or count the log (export, stats).
   */
  idempotencyRecords(): AsyncIterable<IdempotencyRecord>;
  /** Live feed of committed events in position order, from now on. */
  subscribe(listener: FeedListener): () => void;
  close(): Promise<void>;
}

export const conversationStream = (id: string): string => `conversation-${id}`;
export const userStream = (id: string): string => `user-${id}`;
export const nodeStream = (id: string): string => `node-${id}`;

/** The conversation id of a `conversation-<id>` stream, or undefined. */
export function conversationIdOf(stream: string): string | undefined {
  return stream.startsWith('conversation-') ? stream.slice('conversation-'.length) : undefined;
}
