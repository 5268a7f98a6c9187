/**
 * Parley's numbers against EventStoreDB's.
 *
 * - seq ↔ revision: EventStoreDB numbers a stream's events from revision 0, Parley from
 *   seq 1, so seq = revision + 1 and a stream's version (its last seq) = last revision + 1.
 * - expected version ↔ expected revision: version 0 (the stream must not exist) is
 *   NO_STREAM; version v > 0 is revision v − 1; `any` is ANY.
 * - position ↔ `$all` position: Parley's global position is the event's prepare position
 *   (its own record's offset in the transaction log). The gRPC API writes every append as
 *   an implicit transaction, where EventStoreDB's maintainers say commit and prepare
 *   positions are equal (they differ only for the old TCP API's explicit transactions);
 *   the prepare position is the one unique per event either way, its order is `$all`'s
 *   order (a transaction's records are contiguous), and a read or subscription can start
 *   at {commit: p, prepare: p}. Both are 64-bit on the server; a position past 2^53 is
 *   refused, not rounded.
 * - `$all` order is (commit, prepare). Other applications' events in the same database can
 *   have commit > prepare (explicit transactions of the old TCP API, multi-event writes of
 *   servers before 20.6): a scan that pages through them resumes at the exact pair it saw
 *   last, and "the end of `$all`" is the last event's commit position, which lies after
 *   every event before it whatever their prepare positions.
 */
import type { ExpectedVersion } from '../port.js';

/** What EventStoreDB's client takes and gives (its constants are these strings). */
export type EsExpectedRevision = 'any' | 'no_stream' | bigint;
export type EsCurrentRevision = 'no_stream' | bigint;
export interface EsPosition {
  commit: bigint;
  prepare: bigint;
}

export class PositionOutOfRangeError extends Error {
  override readonly name = 'PositionOutOfRangeError';
  readonly code = 'position_out_of_range';
}

export function seqOfRevision(revision: bigint): number {
  return safeNumber(revision + 1n, 'revision');
}

export function revisionOfSeq(seq: number): bigint {
  if (!Number.isSafeInteger(seq) || seq < 1) throw new RangeError(`a seq is a positive integer, got ${seq}`);
  return BigInt(seq - 1);
}

export function expectedRevisionOf(expected: ExpectedVersion): EsExpectedRevision {
  if (expected === 'any') return 'any';
  if (!Number.isSafeInteger(expected) || expected < 0) throw new RangeError(`an expected version is 'any' or an integer ≥ 0, got ${expected}`);
  return expected === 0 ? 'no_stream' : BigInt(expected - 1);
}

/** A stream's version from its current revision (0 for a stream that does not exist). */
export function versionOfRevision(current: EsCurrentRevision | 'any' | 'stream_exists' | undefined): number {
  return typeof current === 'bigint' ? seqOfRevision(current) : 0;
}

export function positionOf(position: EsPosition): number {
  return safeNumber(position.prepare, 'prepare position');
}

/** Whether `a` comes after `b` in `$all` (commit position first, then prepare). */
export function isAfter(a: EsPosition, b: EsPosition): boolean {
  return a.commit !== b.commit ? a.commit > b.commit : a.prepare > b.prepare;
}

/**
 * A number past which a read or subscription (`startAfter`) sees only events after this
 * one: its commit position (equal to its prepare position for every event Parley writes).
 */
export function endPositionOf(position: EsPosition): number {
  return safeNumber(position.commit > position.prepare ? position.commit : position.prepare, 'commit position');
}

/**
 * Where a read or subscription starts so that it yields the events after `position`:
 * the start of `$all` for 0, else the event's own position (EventStoreDB's reads start at
 * it, its subscriptions after it; callers drop anything at or before `position`).
 */
export function startAfter(position: number): 'start' | EsPosition {
  if (!Number.isSafeInteger(position) || position < 0) throw new RangeError(`a position is an integer ≥ 0, got ${position}`);
  if (position === 0) return 'start';
  const p = BigInt(position);
  return { commit: p, prepare: p };
}

function safeNumber(value: bigint, what: string): number {
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) throw new PositionOutOfRangeError(`${what} ${value} is outside Parley's range (0..2^53)`);
  return Number(value);
}
