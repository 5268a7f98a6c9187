/**
 * Which envelope stands when two claim the same seq of a store stream.
 *
 * `Nats-Expected-Last-Subject-Sequence` should make that impossible, but a server with a
 * concurrency bug (nats-server#4320 on 2.9.0–2.9.20 with R3, see server-bugs.ts) or a
 * message published into the stream by something else can put a second envelope whose
 * first seq is already taken into the log. Left alone, history keeps one (INSERT OR
 * IGNORE), live delivery sends both, and a decider rebuilt from the log counts both — so
 * the conversation refuses every later post as a conflict.
 *
 * The rule, the same on every node and every read path because it depends only on the log:
 * in JetStream order (lowest sequence first), an envelope stands when its first seq is
 * above the version the standing envelopes before it reached; otherwise it is a duplicate
 * and is skipped by history, the live feed and decider state alike. The first envelope to
 * claim a seq wins. A skipped envelope is never silent: it is reported (error log through
 * the store's onError, `parley_duplicate_seq_total`, `parley verify`).
 *
 * A reader that starts in the middle of a stream (a catch-up page, the live feed from the
 * tail) knows the streams only from where it starts; what it has not seen is taken to
 * stand, which is right for every envelope except a duplicate whose winner came before the
 * reader's start. The read models keep the first row per seq regardless, so they agree.
 */
import { BoundedMap } from '../bounded-map.js';
import { versionAfter, type Envelope } from './envelope.js';

/** A skipped envelope: its first seq was already taken by an earlier envelope. */
export class DuplicateSeqError extends Error {
  override readonly name = 'DuplicateSeqError';
  readonly code = 'duplicate_seq';
  constructor(
    readonly stream: string,
    readonly firstSeq: number,
    readonly jetstreamSeq: number,
    readonly standingVersion: number,
  ) {
    super(
      `duplicate seq in the log: message ${jetstreamSeq} claims ${stream} seq ${firstSeq}, but the stream already ` +
        `reached version ${standingVersion} before it; the earlier envelope stands and this one is skipped on every node`,
    );
  }
}

export interface DuplicateSeq {
  stream: string;
  firstSeq: number;
  jetstreamSeq: number;
  standingVersion: number;
}

/** Applies the rule over envelopes read in JetStream order; bounded to `maxStreams` streams. */
export class StandingFilter {
  private readonly versions: BoundedMap<string, number>;

  constructor(
    private readonly onDuplicate: (d: DuplicateSeqError) => void,
    maxStreams = Number.POSITIVE_INFINITY,
  ) {
    this.versions = new BoundedMap(maxStreams);
  }

  /** True when the envelope stands; false (and reported) when its first seq is taken. */
  admit(env: Envelope, jetstreamSeq: number): boolean {
    const known = this.versions.get(env.stream);
    if (known !== undefined && env.firstSeq <= known) {
      this.onDuplicate(new DuplicateSeqError(env.stream, env.firstSeq, jetstreamSeq, known));
      return false;
    }
    this.versions.set(env.stream, versionAfter(env));
    return true;
  }

  /** The version the standing envelopes of a stream reached, as far as this filter saw. */
  versionOf(stream: string): number | undefined {
    return this.versions.get(stream);
  }
}

/**
 * Reports each skipped envelope once per process (reads see the same one again and
 * again), so the error log and the metric count envelopes, not reads.
 */
export class DuplicateReporter {
  /** JetStream sequences already reported (the oldest forgotten past 100 000). */
  private readonly seen = new BoundedMap<number, true>(100_000);
  /** Distinct duplicate envelopes seen by this store instance. */
  count = 0;

  constructor(private readonly onError: (err: unknown) => void) {}

  report = (d: DuplicateSeqError): void => {
    if (this.seen.has(d.jetstreamSeq)) return;
    this.seen.set(d.jetstreamSeq, true);
    this.count++;
    this.onError(d);
  };
}
