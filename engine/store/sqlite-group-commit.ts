/**
 * Group commit, the main thread's side: appends are sent to the writer thread in batches,
 * and the writer commits each transaction with one fsync.
 *
 * Appends that arrive in one turn of the event loop are sent as one batch; while a small
 * batch is being committed the next one is sent too (see canSend), and the writer commits
 * everything that queued on its port in one transaction as soon as the previous fsync
 * returns, so under light load the round trip between the threads adds no wait. Otherwise
 * appends queue up here while a batch is committed and form the next one, so the batch
 * grows with the load and the fsync never blocks the main thread.
 *
 * Each append is checked on its own: a version conflict rejects that append and the
 * appends queued behind it on the same stream (they were decided on top of it), whether
 * still here or already sent. The idempotency key is checked there too, inside the
 * transaction, once.
 */
import type { AppendOptions, AppendResult, NewEvent, StoredEvent } from './port.js';
import type { BoundedMap } from './bounded-map.js';
import { ConcurrencyError } from './errors.js';
import type { CommittedFeed } from './sqlite-feed.js';
import {
  encodeBatch,
  outcomesOf,
  withoutUnencodable,
  writeFailure,
  type BatchMessage,
  type BatchResult,
  type PendingAppend,
  type WriteError,
  type WriterOutcome,
} from './sqlite-writer-protocol.js';

/**
 * A second batch goes to the writer while one is being committed only if that one has
 * fewer appends than this. Under light load that saves the round trip between the threads;
 * under heavy load the batches are large, and committing each small batch as soon as it
 * comes would cost an fsync (and its CPU) per event-loop turn: measured, it cut the fanout
 * scenario's saturation by a third.
 */
const PIPELINE_BELOW_APPENDS = 8;

/** A batch sent to the writer and not yet answered. */
interface SentBatch {
  n: number;
  appends: PendingAppend[];
  started: number;
}

/** A batch the writer committed, with what became of each of its appends. */
interface CommittedBatch {
  sent: SentBatch;
  outcomes: WriterOutcome[];
}

/** What group commit needs of the store: its writer, its version cache, its feed, its observers. */
export interface GroupCommitDeps {
  file: string;
  /** The current writer thread: batches go to it only while it is ready. */
  writer: { readonly ready: boolean; post(message: BatchMessage): void; committed(): void };
  /** Streams' versions as last committed (a cache; a missing one is read from the log). */
  versions: BoundedMap<string, number>;
  feed: CommittedFeed;
  onBatch?: (appends: number, events: number, seconds: number) => void;
  onWriteFailure?: (err: Error) => void;
}

/** The appends queued for and sent to the writer, and how each is answered. */
export class GroupCommit {
  private pending: PendingAppend[] = [];
  private flushScheduled = false;
  /** Sent to the current writer, oldest first; answered in this order. */
  private inFlight: SentBatch[] = [];
  /** Numbers of the last batch sent to the current writer and the last one answered. */
  private sent = 0;
  private answered = 0;
  private drained: (() => void) | null = null;

  constructor(private readonly deps: GroupCommitDeps) {}

  /** Queues an append for the next batch; resolves once it is committed (or rejects). */
  enqueue(stream: string, events: NewEvent[], options: AppendOptions): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      this.pending.push({ stream, events, options, resolve, reject });
      if (!this.flushScheduled && this.canSend()) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** A new writer opened the file: batches are numbered from 1 again, and what queued goes. */
  writerReady(): void {
    this.sent = 0;
    this.answered = 0;
    if (this.pending.length > 0 && this.inFlight.length === 0) this.flush();
  }

  /** Fails every append sent or queued (the writer is gone, or the store is broken). */
  failAll(err: Error): void {
    const waiting = [...this.inFlight.flatMap((b) => b.appends), ...this.pending];
    this.inFlight = [];
    this.pending = [];
    for (const req of waiting) req.reject(err);
    this.drained?.();
  }

  /** Resolves once every append accepted so far has been answered. */
  async drain(): Promise<void> {
    if (this.inFlight.length === 0 && this.pending.length === 0) return;
    await new Promise<void>((resolve) => {
      this.drained = resolve;
      if (this.inFlight.length === 0) this.flush();
    });
  }

  /**
   * The writer's answers for the batches of one or more transactions, in the order they
   * were sent (each transaction all committed, or all rolled back).
   */
  answers(transactions: BatchResult[][]): void {
    const seen = this.answered;
    const heard: Array<{ committed: CommittedBatch[]; rolledBack: SentBatch[]; failure: WriteError | undefined }> = [];
    for (const results of transactions) {
      const committed: CommittedBatch[] = [];
      const rolledBack: SentBatch[] = [];
      for (const result of results) {
        const sent = this.inFlight[0];
        if (!sent || sent.n !== result.n) continue; // not ours: failed already when its writer was lost
        this.inFlight.shift();
        this.answered = result.n;
        if ('error' in result) rolledBack.push(sent);
        else committed.push({ sent, outcomes: result.outcomes });
      }
      heard.push({ committed, rolledBack, failure: results.find((r): r is BatchResult & WriteError => 'error' in r) });
    }
    // The writer is idle now: what queued meanwhile goes to it before these answers are
    // settled (feed, fan-out, read models), so its next commit overlaps that work. It was
    // gathered without knowing these answers: sent as such (`seen`), the writer itself
    // fails what was decided on top of an append that failed in them.
    if (this.pending.length > 0) this.flush(seen);
    const settled: CommittedBatch[][] = [];
    for (const { committed, rolledBack, failure } of heard) {
      if (failure && rolledBack.length > 0) this.failed(rolledBack, failure);
      if (committed.length > 0) settled.push(committed);
    }
    if (settled.length > 0) {
      this.deps.writer.committed();
      this.settle(settled);
    }
    if (this.pending.length > 0) this.flush();
    else if (this.inFlight.length === 0) this.drained?.();
  }

  /** At most two batches in flight, the second only behind a small one (PIPELINE_BELOW_APPENDS). */
  private canSend(): boolean {
    const [first, second] = this.inFlight;
    return !first || (!second && first.appends.length < PIPELINE_BELOW_APPENDS);
  }

  /**
   * Sends everything that queued up to the writer as one batch (committed in one
   * transaction). `seen`: the last batch whose answer was handled when these appends were
   * decided (by default every batch answered so far).
   */
  private flush(seen = this.answered): void {
    this.flushScheduled = false;
    if (!this.canSend() || this.pending.length === 0 || !this.deps.writer.ready) return;
    const appends = this.pending;
    this.pending = [];
    const n = this.sent + 1;
    let message: BatchMessage;
    try {
      message = encodeBatch(n, seen, appends);
    } catch {
      this.pending = withoutUnencodable(appends);
      if (this.pending.length > 0) this.flush(seen);
      return;
    }
    this.sent = n;
    this.inFlight.push({ n, appends, started: performance.now() });
    this.deps.writer.post(message);
  }

  /** The transaction rolled back (disk full, I/O error, duplicate event id): nothing of it is acked. */
  private failed(rolledBack: SentBatch[], reply: WriteError): void {
    this.deps.versions.clear();
    const err = writeFailure(reply.error, reply.code, this.deps.file);
    this.deps.onWriteFailure?.(err);
    const appends = rolledBack.flatMap((sent) => sent.appends);
    // Appends queued behind it on the same streams were decided on top of its events
    // (those already sent, the writer fails itself).
    const dependent = appends.filter((req) => req.options.expectedVersion !== 'any');
    this.failQueuedOn(new Map(dependent.map((req) => [req.stream, err])));
    for (const req of appends) req.reject(err);
    // A commit reported failed may have reached the disk: the feed looks.
    this.deps.feed.catchUp();
  }

  /** Answers the appends of the batches of committed transactions, after one feed update. */
  private settle(transactions: CommittedBatch[][]): void {
    const now = performance.now();
    const appended: StoredEvent[] = [];
    const answers: Array<{ sent: SentBatch; results: Array<AppendResult | Error> }> = [];
    // Loops, not nested flatMaps: this runs per commit on the main thread, and the arrays
    // the flatMaps made per append cost ~0.7% of it in the append benchmark.
    for (const batches of transactions) {
      const eventsBefore = appended.length;
      let appends = 0;
      for (const { sent, outcomes } of batches) {
        const results = this.resultsOf(sent, outcomes);
        for (const r of results) if (!(r instanceof Error)) for (const e of r.events) appended.push(e);
        appends += sent.appends.length;
        answers.push({ sent, results });
      }
      this.deps.onBatch?.(appends, appended.length - eventsBefore, (now - batches[0]!.sent.started) / 1000);
    }
    // The feed sees the events before the appenders hear back, so in-process read models
    // are up to date by the time a client gets its ack.
    this.deps.feed.publish(appended);
    for (const { sent, results } of answers) {
      sent.appends.forEach((req, i) => {
        const r = results[i]!;
        if (r instanceof Error) req.reject(r);
        else req.resolve(r);
      });
    }
  }

  /** What each append of a committed batch comes to; fails the appends queued here behind a failed one. */
  private resultsOf(sent: SentBatch, outcomes: WriterOutcome[]): Array<AppendResult | Error> {
    const { results, broken } = outcomesOf(sent.appends, outcomes, this.deps.file);
    for (const r of results) if (!(r instanceof Error) && r.duplicate === null) this.deps.versions.set(r.stream, r.version);
    // Appends still queued here behind a failed one were decided on top of its events:
    // they fail too (the caller retries them on fresh state).
    if (broken.size > 0) this.failQueuedOn(broken);
    return results;
  }

  /** Rejects the queued appends with an expected version on these streams: with the error given, else a conflict. */
  private failQueuedOn(streams: Map<string, Error | undefined>): void {
    if (streams.size === 0) return;
    this.pending = this.pending.filter((req) => {
      if (req.options.expectedVersion === 'any' || !streams.has(req.stream)) return true;
      req.reject(streams.get(req.stream) ?? new ConcurrencyError(req.stream, req.options.expectedVersion, this.deps.versions.get(req.stream) ?? -1));
      return false;
    });
  }
}
