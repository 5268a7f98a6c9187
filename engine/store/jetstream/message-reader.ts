/**
 * Bulk reads through short-lived ordered consumers (ephemeral, in memory, R1, no acks):
 * the cheapest way on 2.9 to stream a range of a JetStream stream, with or without a
 * one-subject filter, whole messages or headers only. One consumer costs two requests to
 * set up, so callers first check that the range is non-empty (a consumer over an empty
 * range would only end by its idle timeout).
 */
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { decodeEnvelope, type Envelope } from './envelope.js';

/** A range read that stopped hearing from the server; retried like any timeout. */
export class ReadIdleTimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

export interface EnvelopeAt {
  jetstreamSeq: number;
  envelope: Envelope;
}

export interface ReadRange {
  /** First JetStream sequence to deliver. */
  startSeq: number;
  /** Only this subject (one store stream); all subjects when absent. */
  filterSubject?: string;
  /** Stop once a message at or after this sequence has been delivered. */
  untilSeq: number;
  /** Deliver headers only (for scans that need no payload). */
  headersOnly?: boolean;
  /** Give up when no message arrives for this long. */
  idleTimeoutMs: number;
}

/** Calls `visit` for each message of the range in order; `visit` returns true to stop. */
export async function readRange(js: JetStreamClient, jetstreamStream: string, range: ReadRange, visit: (m: JsMsg) => boolean): Promise<void> {
  if (range.startSeq > range.untilSeq) return;
  const consumer = await js.consumers.get(jetstreamStream, {
    opt_start_seq: range.startSeq,
    ...(range.filterSubject ? { filter_subjects: range.filterSubject } : {}),
    ...(range.headersOnly ? { headers_only: true } : {}),
  });
  try {
    const batch = Math.max(1, Math.min(256, range.untilSeq - range.startSeq + 1));
    const messages = await consumer.consume({ max_messages: batch, expires: Math.max(1000, range.idleTimeoutMs) });
    let idle: NodeJS.Timeout | undefined;
    let timedOut = false;
    const arm = (): void => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        timedOut = true;
        messages.stop();
      }, range.idleTimeoutMs);
    };
    arm();
    try {
      for await (const m of messages) {
        arm();
        if (visit(m) || m.info.pending === 0 || m.seq >= range.untilSeq) break;
      }
    } finally {
      clearTimeout(idle);
    }
    // Transient (availability.ts retries it): after a server restart or a leader change a
    // fresh consumer can stay silent for a while although the range exists.
    if (timedOut) throw new ReadIdleTimeoutError(`no messages from ${jetstreamStream} for ${range.idleTimeoutMs} ms`);
  } finally {
    // Ordered consumers expire on their own (inactive threshold); deleting now frees the
    // server sooner. Best effort: a failed delete changes nothing for the caller.
    consumer.delete().catch(() => undefined);
  }
}

/** The envelopes of a range, until `enough(collected)` says so. */
export async function readEnvelopes(
  js: JetStreamClient,
  jetstreamStream: string,
  range: ReadRange & { enough?: (collected: EnvelopeAt[]) => boolean },
): Promise<EnvelopeAt[]> {
  const out: EnvelopeAt[] = [];
  await readRange(js, jetstreamStream, range, (m) => {
    out.push({ jetstreamSeq: m.seq, envelope: decodeEnvelope(m.data, m.seq) });
    return range.enough?.(out) ?? false;
  });
  return out;
}
