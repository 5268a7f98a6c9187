/**
 * Where a reader of the whole log is, when the log may be split into partitions.
 *
 * Positions: in a log of N partitions an event's position is `local * N + p`, where `p`
 * is its partition and `local` the position its partition's store gave it (monotonic
 * within the partition). So positions are unique, say their partition (`position % N`)
 * and grow within a partition, but do not order events of different partitions: there is
 * no global order, only order within a conversation (whose stream is in one partition).
 * With N = 1 a position is exactly the store's own.
 *
 * A cursor holds, per partition, the last position read there (0 = none). It covers an
 * event when the event's position is at or below its partition's entry. Its token:
 * - N = 1: the decimal position (today's plain numeric positions and checkpoints are
 *   valid tokens, and a token is a plain number);
 * - N > 1: `c1.` + base64url of the JSON array of the N entries. Opaque to clients: they
 *   store it and hand it back. A token names its partition count, so a token from a log
 *   with another N is refused (coded), never misread.
 * The token 0 (or '0') is the start of any log.
 */
import type { EventStore, StoredEvent } from './port.js';
import { assertPartitionCount, MAX_PARTITIONS } from './partitions.js';

const TOKEN_PREFIX = 'c1.';
/** Bounds what a client can make a node parse (64 partitions × 16 digits fits easily). */
const MAX_TOKEN_LENGTH = 2048;

export class InvalidCursorError extends Error {
  override readonly name = 'InvalidCursorError';
  readonly code = 'invalid_cursor';
}

export function isInvalidCursorError(err: unknown): err is InvalidCursorError {
  return err instanceof InvalidCursorError;
}

/** The position of the event at `local` in partition `p` of `n`. */
export function partitionedPosition(local: number, p: number, n: number): number {
  return local * n + p;
}

/** The partition-local position of `position` in a log of `n` partitions. */
export function localPositionOf(position: number, n: number): number {
  return Math.floor(position / n);
}

export class LogCursor {
  private constructor(private readonly last: readonly number[]) {}

  /** The start of a log of `n` partitions. */
  static start(n: number): LogCursor {
    return new LogCursor(new Array<number>(assertPartitionCount(n)).fill(0));
  }

  /** The cursor of a one-partition log after `position`. */
  static at(position: number): LogCursor {
    return LogCursor.decode(position, 1);
  }

  /**
   * The cursor with, per partition, the lowest entry of `cursors` (all of `n` partitions):
   * what every one of them has read. The start when there are none.
   */
  static lowest(cursors: Iterable<LogCursor>, n: number): LogCursor {
    let low: number[] | null = null;
    for (const c of cursors) {
      if (c.partitions !== n) throw new InvalidCursorError(`a cursor over ${c.partitions} partitions in a log of ${n}`);
      low = low ? low.map((p, i) => Math.min(p, c.after(i))) : [...c.last];
    }
    return low ? new LogCursor(low) : LogCursor.start(n);
  }

  get partitions(): number {
    return this.last.length;
  }

  /** Per partition, the last position read (a plain copy: what crosses a thread or goes in a message). */
  get entries(): number[] {
    return [...this.last];
  }

  /**
   * The smallest position this cursor does not cover: the next one of partition 0 (with
   * N = 1 the position after it). Names where a reader stands when no event does.
   */
  get next(): number {
    return this.after(0) + this.last.length;
  }

  /** The last position read in partition `p` (0 = none). */
  after(p: number): number {
    return this.last[p] ?? 0;
  }

  /** The one position of a one-partition cursor (what the store's own readAll takes). */
  get single(): number {
    if (this.last.length !== 1) throw new InvalidCursorError(`a cursor over ${this.last.length} partitions has no single position`);
    return this.last[0]!;
  }

  covers(position: number): boolean {
    return position <= this.after(position % this.last.length);
  }

  /** This cursor moved past `events` (each entry only ever grows). */
  advancedBy(events: readonly Pick<StoredEvent, 'position'>[]): LogCursor {
    if (events.length === 0) return this;
    const n = this.last.length;
    const next = [...this.last];
    for (const e of events) next[e.position % n] = Math.max(next[e.position % n]!, e.position);
    return new LogCursor(next);
  }

  /**
   * How far this cursor is behind `head`, in positions summed over partitions (with N = 1
   * exactly `head - position`, 0 when past it): a lag, comparable only within one log.
   */
  behind(head: LogCursor): number {
    return head.last.reduce((sum, h, i) => sum + Math.max(0, h - this.after(i)), 0);
  }

  /** True when every partition of this cursor is at or past `other`'s. */
  reaches(other: LogCursor): boolean {
    return other.partitions === this.partitions && other.last.every((p, i) => this.after(i) >= p);
  }

  encode(): string {
    if (this.last.length === 1) return String(this.last[0]);
    return TOKEN_PREFIX + Buffer.from(JSON.stringify(this.last), 'utf8').toString('base64url');
  }

  toString(): string {
    return this.encode();
  }

  /**
   * Reads a token whose log is not known here (a client's, e.g. `parley tail`): a plain
   * number is a one-partition cursor, a `c1.` token has as many partitions as entries.
   */
  static parse(token: string): LogCursor {
    if (!token.startsWith(TOKEN_PREFIX) || token.length > MAX_TOKEN_LENGTH) return LogCursor.decode(token, 1);
    let entries = 0;
    try {
      const parsed: unknown = JSON.parse(Buffer.from(token.slice(TOKEN_PREFIX.length), 'base64url').toString('utf8'));
      entries = Array.isArray(parsed) ? parsed.length : 0;
    } catch {
      // reported below
    }
    if (entries < 1 || entries > MAX_PARTITIONS) throw new InvalidCursorError('not a log cursor');
    return LogCursor.decode(token, entries);
  }

  /** Reads a token (or a stored plain number) for a log of `n` partitions; throws InvalidCursorError. */
  static decode(token: string | number, n: number): LogCursor {
    assertPartitionCount(n);
    if (typeof token === 'number' || /^\d{1,16}$/.test(token)) {
      const position = Number(token);
      if (!Number.isSafeInteger(position) || position < 0) throw new InvalidCursorError('a position must be a whole number ≥ 0');
      if (position === 0) return LogCursor.start(n);
      if (n !== 1) throw new InvalidCursorError(`a plain position resumes a one-partition log only; this log has ${n} partitions`);
      return new LogCursor([position]);
    }
    if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH || !token.startsWith(TOKEN_PREFIX)) {
      throw new InvalidCursorError('not a log cursor');
    }
    const body = token.slice(TOKEN_PREFIX.length);
    if (!/^[A-Za-z0-9_-]+$/.test(body)) throw new InvalidCursorError('not a log cursor');
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      throw new InvalidCursorError('not a log cursor');
    }
    if (!Array.isArray(parsed)) throw new InvalidCursorError('not a log cursor');
    if (parsed.length !== n) throw new InvalidCursorError(`the cursor is for a log of ${parsed.length} partitions; this log has ${n}`);
    parsed.forEach((p: unknown, i) => {
      if (typeof p !== 'number' || !Number.isSafeInteger(p) || p < 0 || (p !== 0 && p % n !== i)) {
        throw new InvalidCursorError(`entry ${i} of the cursor is not a position of partition ${i}`);
      }
    });
    return new LogCursor(parsed as number[]);
  }
}

/** What a store split into partitions adds to the port (the JetStream store with N > 1). */
export interface PartitionedLog {
  readonly partitions: number;
  /** At most `limit` events not covered by `after`; see PartitionedJetStreamStore. */
  readAllAfter(after: LogCursor, limit: number): Promise<StoredEvent[]>;
  /** A cursor covering every committed event. */
  headCursor(): Promise<LogCursor>;
}

/** The partition side of a store, when it has one. */
export function partitionedLogOf(store: object): PartitionedLog | undefined {
  const s = store as Partial<PartitionedLog>;
  return typeof s.readAllAfter === 'function' && typeof s.headCursor === 'function' && typeof s.partitions === 'number'
    ? (s as PartitionedLog)
    : undefined;
}

/** How many partitions a store's log has (1 for every unpartitioned store). */
export function partitionsOf(store: object): number {
  return partitionedLogOf(store)?.partitions ?? 1;
}

/** Events of any store after a cursor: the way every whole-log reader should read. */
export function readAllAfter(store: Pick<EventStore, 'readAll'>, after: LogCursor, limit: number): Promise<StoredEvent[]> {
  const partitioned = partitionedLogOf(store);
  if (partitioned) return partitioned.readAllAfter(after, limit);
  try {
    return store.readAll(after.single, limit);
  } catch (err) {
    return Promise.reject(err);
  }
}

/** The head of any store as a cursor. */
export async function headCursorOf(store: Pick<EventStore, 'headPosition'>): Promise<LogCursor> {
  const partitioned = partitionedLogOf(store);
  return partitioned ? partitioned.headCursor() : LogCursor.at(await store.headPosition());
}

/** Decodes a client's or a stored cursor for this store's log (throws InvalidCursorError). */
export function cursorFor(store: EventStore, token: string | number): LogCursor {
  return LogCursor.decode(token, partitionsOf(store));
}
