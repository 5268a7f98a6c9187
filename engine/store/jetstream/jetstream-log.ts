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
import { StandingFilter, type DuplicateReporter, type DuplicateSeq } from './duplicate-seqs.js';
import type { Tip } from './stream-tips.js';

export class JetStreamLog {
  /** Sampled seq → JetStream sequence per subject, so stream reads skip less. */
  readonly hints = new SeqHints(10_000);

  constructor(
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
    private readonly options: ResolvedOptions,
    /** Where envelopes that lose a seq to an earlier one are reported (duplicate-seqs.ts). */
    readonly duplicates: DuplicateReporter,
  ) {}

  private retry<T>(what: string, f: () => Promise<T>): Promise<T> {
    return withRetryBudget(what, this.options.retryBudgetMs, f);
  }

  async tipOf(subject: string): Promise<Tip> {
    const m = await this.retry('read stream tip', () => this.jsm.streams.getMessage(this.options.streamName, { last_by_subj: subject }));
    if (!m) return { version: 0, jetstreamSeq: 0 };
    const env = decodeEnvelope(m.data, m.seq);
    return { version: versionAfter(env), jetstreamSeq: m.seq, firstSeq: env.firstSeq };
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

  /**
   * Envelopes of one subject whose events come after `afterVersion`, at most `max`; only
   * the standing ones (an envelope whose first seq was taken before is skipped).
   */
  async envelopesOf(subject: string, afterVersion: number, max: number): Promise<EnvelopeAt[]> {
    const tip = await this.tipOf(subject);
    if (tip.version <= afterVersion) return [];
    return (await this.standingOf(subject, afterVersion, tip.jetstreamSeq, max)).envelopes;
  }

  /**
   * The standing version of a subject and its last message's sequence (what the next
   * append must name), read from the log: for when the last envelope may be a duplicate,
   * whose own version is then not the stream's.
   */
  async standingTipOf(subject: string, fromVersion: number): Promise<Tip> {
    const tip = await this.tipOf(subject);
    if (tip.jetstreamSeq === 0) return tip;
    const { version } = await this.standingOf(subject, Math.max(0, fromVersion - 1), tip.jetstreamSeq, Number.POSITIVE_INFINITY);
    return { version, jetstreamSeq: tip.jetstreamSeq };
  }

  private async standingOf(subject: string, afterVersion: number, untilSeq: number, max: number): Promise<{ envelopes: EnvelopeAt[]; version: number }> {
    const read = await this.retry('read stream', async () => {
      const filter = new StandingFilter(this.duplicates.report);
      const standing: EnvelopeAt[] = [];
      let version = 0;
      await readEnvelopes(this.js, this.options.streamName, {
        startSeq: this.hints.startFor(subject, afterVersion),
        filterSubject: subject,
        untilSeq,
        enough: (got) => {
          const g = got[got.length - 1]!;
          if (filter.admit(g.envelope, g.jetstreamSeq)) {
            version = versionAfter(g.envelope);
            if (version > afterVersion) standing.push(g);
          }
          return standing.length >= max;
        },
        idleTimeoutMs: this.options.requestTimeoutMs,
      });
      return { envelopes: standing, version };
    });
    for (const g of read.envelopes) this.hints.learn(subject, g.envelope.firstSeq, g.jetstreamSeq);
    return read;
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
    const events = await this.retry('read all', async () => {
      const filter = new StandingFilter(this.duplicates.report);
      const out: StoredEvent[] = [];
      await readEnvelopes(this.js, this.options.streamName, {
        startSeq: start,
        untilSeq: last,
        enough: (got) => {
          const g = got[got.length - 1]!;
          if (filter.admit(g.envelope, g.jetstreamSeq)) {
            for (const e of storedEventsOf(g.envelope, g.jetstreamSeq)) if (e.position > afterPosition) out.push(e);
          }
          return out.length >= limit;
        },
        idleTimeoutMs: this.options.requestTimeoutMs,
      });
      return out;
    });
    return events.slice(0, limit);
  }

  /** Every envelope of the log that loses its seq to an earlier one (a full scan, for verify). */
  async duplicateSeqs(onProgress?: (seq: number, last: number) => void): Promise<DuplicateSeq[]> {
    const found: DuplicateSeq[] = [];
    const filter = new StandingFilter((d) => {
      found.push({ stream: d.stream, firstSeq: d.firstSeq, jetstreamSeq: d.jetstreamSeq, standingVersion: d.standingVersion });
      this.duplicates.report(d);
    });
    const last = await this.lastSeq();
    for (let from = 1; from <= last; ) {
      const until = Math.min(last, from + 9_999);
      const got = await this.retry('read all', () =>
        readEnvelopes(this.js, this.options.streamName, { startSeq: from, untilSeq: until, idleTimeoutMs: this.options.requestTimeoutMs }),
      );
      for (const g of got) filter.admit(g.envelope, g.jetstreamSeq);
      onProgress?.(until, last);
      from = until + 1;
    }
    return found;
  }
}
