/**
 * Bulk reads of envelopes through short-lived ordered consumers (ephemeral, in memory,
 * R1, no acks): the cheapest way on 2.9 to stream a range of a JetStream stream, with or
 * without a one-subject filter. One consumer costs two requests to set up, so callers
 * first check that the range is non-empty (a consumer over an empty range would only end
 * by timeout).
 */
import type { JetStreamClient } from '@nats-io/jetstream';
import { StoreUnavailableError } from '../errors.js';
import { decodeEnvelope, type Envelope } from './envelope.js';

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
  /** Stop once `enough(collected)` says so. */
  enough?: (collected: EnvelopeAt[]) => boolean;
  /** Give up when no message arrives for this long. */
  idleTimeoutMs: number;
}

export async function readEnvelopes(js: JetStreamClient, jetstreamStream: string, range: ReadRange): Promise<EnvelopeAt[]> {
  const out: EnvelopeAt[] = [];
  if (range.startSeq > range.untilSeq) return out;
  const consumer = await js.consumers.get(jetstreamStream, {
    opt_start_seq: range.startSeq,
    ...(range.filterSubject ? { filter_subjects: range.filterSubject } : {}),
  });
  try {
    const batch = Math.max(1, Math.min(256, range.untilSeq - range.startSeq + 1));
    const messages = await consumer.consume({ max_messages: batch, expires: range.idleTimeoutMs });
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
        out.push({ jetstreamSeq: m.seq, envelope: decodeEnvelope(m.data, m.seq) });
        if (m.info.pending === 0 || m.seq >= range.untilSeq || range.enough?.(out)) break;
      }
    } finally {
      clearTimeout(idle);
    }
    if (timedOut) throw new StoreUnavailableError(`no messages from ${jetstreamStream} for ${range.idleTimeoutMs} ms`);
    return out;
  } finally {
    // Ordered consumers expire on their own (inactive threshold); deleting now frees the
    // server sooner. Best effort: a failed delete changes nothing for the caller.
    consumer.delete().catch(() => undefined);
  }
}
