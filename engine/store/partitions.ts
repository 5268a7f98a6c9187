/**
 * Which partition a store stream lives in when the log is split over N partitions (N
 * JetStream streams; `PARLEY_PARTITIONS`).
 *
 * A conversation's stream goes to FNV-1a 32 of its conversation id (UTF-8 bytes) mod N:
 * the mapping nats-server's subject transform `partition(N, …)` applies to a token (since
 * 2.8), so a publisher-side split and a server-side one agree, and it is stable across
 * processes, versions and languages. Every other stream (user-, node-, system streams)
 * goes to partition 0: partition 0 is the one stream that exists at every N (it keeps
 * today's stream name), so with N = 1 nothing moves, a repartition never moves them, and
 * they are few and small next to the conversations that carry the write load.
 */
import { conversationIdOf } from './port.js';

/** The largest partition count accepted (a bound on streams, consumers and cursor size). */
export const MAX_PARTITIONS = 64;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a 32-bit hash of a string's UTF-8 bytes, as an unsigned integer. */
export function fnv1a32(text: string): number {
  let hash = FNV_OFFSET;
  for (const byte of Buffer.from(text, 'utf8')) hash = Math.imul(hash ^ byte, FNV_PRIME) >>> 0;
  return hash;
}

export class InvalidPartitionCountError extends Error {
  override readonly name = 'InvalidPartitionCountError';
  readonly code = 'invalid_partition_count';
}

/** Throws unless `n` is a whole number of partitions in 1..MAX_PARTITIONS. */
export function assertPartitionCount(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > MAX_PARTITIONS) {
    throw new InvalidPartitionCountError(`the partition count must be a whole number in 1..${MAX_PARTITIONS}, got ${n}`);
  }
  return n;
}

/** The partition (0..n-1) of a store stream in a log of `n` partitions. */
export function partitionOf(stream: string, n: number): number {
  if (n === 1) return 0;
  const conversation = conversationIdOf(stream);
  return conversation === undefined ? 0 : fnv1a32(conversation) % n;
}
