/**
 * Reading the log: point lookups (tip of a subject, envelope at a sequence, head) through
 * the stream leader's MSG.GET — consistent, one request each — and ranges through
 * ordered consumers (message-reader.ts).
 *
 * Cost of `eventsOf` (readStream): 2.9 has no index from a store stream's seq to a
 * JetStream sequence. A read after seq N starts at the nearest sampled envelope this
 * store has seen at or before N (seq-hints.ts), else at the subject's first message, and
 * skips the envelopes before N (the server filters by subject, so other streams cost
 * nothing). On a cold store that is O(stream length) for the first read of a stream —
 * fine for catch-up, but a reason for history pages to come from the read model rather
 * than the log. Backward reads read their window forwards and reverse it.
 */
import { JetStreamApiError, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { StoredEvent } from '../port.js';
import { withRetryBudget } from './availability.js';
import { decodeEnvelope, jetstreamSeqAfter, positionOf, storedEventsOf, versionAfter, type Envelope } from './envelope.js';
import { readEnvelopes, type EnvelopeAt } from './message-reader.js';
import type { ResolvedOptions } from './options.js';
import { SeqHints } from './seq-hints.js';
import type { Tip } from './stream-tips.js';

export class JetStreamLog {
  /** Sampled seq → JetStream sequence per subject, so stream reads skip less. */
  readonly hints = new SeqHints(10_000);

  constructor(
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
    private readonly options: ResolvedOptions,
  ) {}

  private retry<T>(what: string, f: () => Promise<T>): Promise<T> {
    return withRetryBudget(what, this.options.retryBudgetMs, f);
  }

  async tipOf(subject: string): Promise<Tip> {
    const m = await this.retry('read stream tip', () => this.jsm.streams.getMessage(this.options.streamName, { last_by_subj: subject }));
    if (!m) return { version: 0, jetstreamSeq: 0 };
    return { version: versionAfter(decodeEnvelope(m.data, m.seq)), jetstreamSeq: m.seq };
  }

  async envelopeAt(jetstreamSeq: number): Promise<Envelope> {
    const m = await this.retry('read message', () => this.jsm.streams.getMessage(this.options.streamName, { seq: jetstreamSeq }));
    if (!m) throw new Error(`message ${jetstreamSeq} of ${this.options.streamName} is gone`);
    return decodeEnvelope(m.data, m.seq);
  }

  /**
   * The envelope at a sequence, or undefined when the leader has no message there (yet):
   * a duplicate ack across a leader change can name sequence 0 or one not applied on the
   * new leader, which MSG.GET answers with "bad request" or "no message found".
   */
  async envelopeIfPresent(jetstreamSeq: number): Promise<Envelope | undefined> {
    if (jetstreamSeq < 1) return undefined;
    try {
      const m = await this.retry('read message', () => this.jsm.streams.getMessage(this.options.streamName, { seq: jetstreamSeq }));
      return m ? decodeEnvelope(m.data, m.seq) : undefined;
    } catch (err) {
      if (err instanceof JetStreamApiError && err.status === 400) return undefined;
      throw err;
    }
  }

  get streamName(): string {
    return this.options.streamName;
  }

  async lastSeq(): Promise<number> {
    const info = await this.retry('read stream info', () => this.jsm.streams.info(this.options.streamName));
    return info.state.last_seq;
  }

  async headPosition(): Promise<number> {
    const last = await this.lastSeq();
    if (last === 0) return 0;
    const env = await this.envelopeAt(last);
    // An envelope without events (a key-only append) sorts just before its own slot.
    return env.events.length > 0 ? positionOf(last, env.events.length - 1) : positionOf(last, 0) - 1;
  }

  /** Envelopes of one subject whose events come after `afterVersion`, at most `max`. */
  async envelopesOf(subject: string, afterVersion: number, max: number): Promise<EnvelopeAt[]> {
    const tip = await this.tipOf(subject);
    if (tip.version <= afterVersion) return [];
    const all = await this.retry('read stream', () =>
      readEnvelopes(this.js, this.options.streamName, {
        startSeq: this.hints.startFor(subject, afterVersion),
        filterSubject: subject,
        untilSeq: tip.jetstreamSeq,
        enough: (got) => got.filter((g) => versionAfter(g.envelope) > afterVersion).length >= max,
        idleTimeoutMs: this.options.requestTimeoutMs,
      }),
    );
    for (const g of all) this.hints.learn(subject, g.envelope.firstSeq, g.jetstreamSeq);
    return all.filter((g) => versionAfter(g.envelope) > afterVersion).slice(0, max);
  }

  /** Events of one subject with seq > afterSeq, at most `limit`, ascending. */
  async eventsOf(subject: string, afterSeq: number, limit: number): Promise<StoredEvent[]> {
    if (limit <= 0) return [];
    const envelopes = await this.envelopesOf(subject, afterSeq, limit);
    const events = envelopes.flatMap((g) => storedEventsOf(g.envelope, g.jetstreamSeq));
    return events.filter((e) => e.seq > afterSeq).slice(0, limit);
  }

  async readAll(afterPosition: number, limit: number): Promise<StoredEvent[]> {
    if (limit <= 0) return [];
    const last = await this.lastSeq();
    const start = jetstreamSeqAfter(afterPosition);
    if (start > last) return [];
    const after = (got: EnvelopeAt[]): StoredEvent[] =>
      got.flatMap((g) => storedEventsOf(g.envelope, g.jetstreamSeq)).filter((e) => e.position > afterPosition);
    const got = await this.retry('read all', () =>
      readEnvelopes(this.js, this.options.streamName, {
        startSeq: start,
        untilSeq: last,
        enough: (g) => after(g).length >= limit,
        idleTimeoutMs: this.options.requestTimeoutMs,
      }),
    );
    return after(got).slice(0, limit);
  }
}
