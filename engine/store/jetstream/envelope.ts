/**
 * The message format: one JetStream message per append, carrying all its events.
 *
 * nats-server 2.9 has no atomic batch publish, so an append of several events is made
 * atomic by putting them into one message (an envelope). The envelope also carries the
 * store stream's seq of its first event (JetStream's own sequences are global to the
 * JetStream stream, while the port wants dense 1, 2, 3… per store stream) and the
 * idempotency record, so the log alone is the truth for all three.
 *
 * Wire form: UTF-8 JSON `{ v: 1, stream, firstSeq, events: [{ id, type, data, metadata }],
 * idempotency? }`.
 *
 * Positions: an event's global position is `jetstreamSeq * POSITION_STRIDE + index` where
 * index is its place in the envelope. That is monotonic across the store (JetStream
 * sequences are), decodable without a lookup (`readAll(afterPosition)` starts at
 * `floor(afterPosition / POSITION_STRIDE)`), and caps one append at POSITION_STRIDE events.
 * With 2^53 safe integers the stride leaves room for ~8.8e12 appends.
 */
import type { IdempotencyRecord, NewEvent, StoredEvent } from '../port.js';

export const POSITION_STRIDE = 1024;
/** The most events one append may carry (one envelope). */
export const MAX_EVENTS_PER_APPEND = POSITION_STRIDE;

export interface Envelope {
  v: 1;
  stream: string;
  firstSeq: number;
  events: NewEvent[];
  idempotency?: IdempotencyRecord;
}

export class MalformedEnvelopeError extends Error {
  override readonly name = 'MalformedEnvelopeError';
  readonly code = 'malformed_envelope';
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeEnvelope(env: Envelope): Uint8Array {
  return encoder.encode(JSON.stringify(env));
}

export function decodeEnvelope(data: Uint8Array, jetstreamSeq: number): Envelope {
  let env: Envelope;
  try {
    env = JSON.parse(decoder.decode(data));
  } catch (err) {
    throw new MalformedEnvelopeError(`message ${jetstreamSeq} is not JSON`, { cause: err });
  }
  if (env?.v !== 1 || typeof env.stream !== 'string' || !Array.isArray(env.events) || !(env.firstSeq >= 1)) {
    throw new MalformedEnvelopeError(`message ${jetstreamSeq} is not a Parley envelope`);
  }
  return env;
}

export function positionOf(jetstreamSeq: number, index: number): number {
  return jetstreamSeq * POSITION_STRIDE + index;
}

/** The first JetStream sequence that can hold an event after `position`. */
export function jetstreamSeqAfter(position: number): number {
  return Math.max(1, Math.floor(position / POSITION_STRIDE));
}

/** The store stream's version once this envelope is applied. */
export function versionAfter(env: Envelope): number {
  return env.firstSeq + env.events.length - 1;
}

export function storedEventsOf(env: Envelope, jetstreamSeq: number): StoredEvent[] {
  return env.events.map((e, i) => ({
    stream: env.stream,
    seq: env.firstSeq + i,
    position: positionOf(jetstreamSeq, i),
    id: e.id,
    type: e.type,
    data: e.data,
    metadata: e.metadata,
  }));
}
