import type Database from 'better-sqlite3';
import type { StoredEvent } from '../engine/store/index.js';
import type { EventCatalogue, EventType } from '../protocol/index.js';
import type { ExternalProjection } from './external.js';

/**
 * A read model built from the log. The runner calls `handle` inside a transaction that
 * also moves the projection's checkpoint, so a read model and its checkpoint never
 * disagree. Bumping `version` makes the runner truncate and rebuild it.
 */
export interface Projection {
  readonly name: string;
  readonly version: number;
  /** Event types it reads; the runner hands it only these. */
  readonly handles: readonly string[];
  /** Creates its tables if they are missing. */
  setup(db: Database.Database): void;
  /** Applies a batch of events, oldest first. Runs inside the runner's transaction. */
  handle(events: StoredEvent[], db: Database.Database): void;
  /** Removes everything it built, for a rebuild. */
  truncate(db: Database.Database): void;
  /** Drops its tables when its version changed, so `setup` can create the new schema. */
  drop?(db: Database.Database): void;
  /**
   * For a rebuild into an emptied read model (`parley rebuild`): drops what only readers
   * need (secondary indexes, a full-text index's triggers), so the bulk load does not keep
   * them current event by event; `setup` then builds them in one go. `handle` must work
   * in between, and `setup` must heal a read model whose bulk load was cut short.
   */
  beforeBulkLoad?(db: Database.Database): void;
  /**
   * For a read model access control reads (membership): the event types that take access
   * away. Readers get what a stopped projection holds, stale; for this one a stale grant
   * would let a removed member in, so while one of these events is not applied, readers
   * of its position get `unavailable` instead (fail closed). Stale denials are safe.
   */
  readonly accessRevokedBy?: readonly string[];
  /**
   * Where the node's read-model thread finds this projection, so it can be applied off
   * the event loop (read-model-thread.ts); without one it runs on the main thread.
   */
  readonly source?: ProjectionSource;
}

/**
 * A projection a worker thread can load for itself (functions cannot cross threads):
 * `module` (a file URL) exports `export`, either the projection or a factory called with
 * `args` (structured-cloneable). The loaded projection must match the one given here.
 */
export interface ProjectionSource {
  module: string;
  export: string;
  args?: unknown[];
}

/** Every event type the engine writes, with its data. */
/** Every event type the engine writes: the protocol's event catalogue. */
export type KnownEventType = EventType;

/** A stored event of one of the given types, its `data` typed accordingly. */
export type EventOf<T extends KnownEventType> = {
  [K in T]: Omit<StoredEvent<EventCatalogue[K]>, 'type'> & { type: K };
}[T];

/**
 * A stored event seen as one of the catalogue's, so `switch (e.type)` or `e.type === …`
 * types its data. The log holds current shapes (upcast on read); a type outside the
 * catalogue matches no case and falls to `default`.
 */
export function asKnown(e: StoredEvent): EventOf<KnownEventType> {
  return e as unknown as EventOf<KnownEventType>;
}

/**
 * Writes a projection with typed events: `handle` receives only the listed types, and
 * `switch (e.type)` narrows `e.data`.
 *
 *   defineProjection({ name: 'word-count', version: 1, handles: ['MessagePosted'], setup, truncate,
 *     handle(events, db) { for (const e of events) count(e.data.text) } })
 */
export function defineProjection<const T extends KnownEventType>(
  p: Omit<Projection, 'handles' | 'handle'> & {
    handles: readonly T[];
    handle(events: Array<EventOf<T>>, db: Database.Database): void;
  },
): Projection {
  return p as unknown as Projection;
}

/** The same for projections outside the node's database (at-least-once, must be idempotent). */
export function defineExternalProjection<const T extends KnownEventType>(
  p: Omit<ExternalProjection, 'kind' | 'handles' | 'handle'> & {
    handles: readonly T[];
    handle(events: Array<EventOf<T>>): Promise<void>;
  },
): ExternalProjection {
  return { ...p, kind: 'external' } as unknown as ExternalProjection;
}
