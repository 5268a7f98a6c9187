/**
 * The embedded event store: one SQLite file in WAL mode with synchronous=FULL, so a
 * committed transaction is fsync'd before any append resolves.
 *
 * Group commit: a writer thread (sqlite-writer.js) commits appends in batches, one
 * transaction and one fsync per batch. Appends that arrive in one turn of the event loop
 * are sent as one batch; while a small batch is being committed the next one is sent
 * too (see canSend), and the writer commits everything that queued on its port in one
 * transaction as soon as the previous fsync returns, so under light load the round trip
 * between the threads adds no wait. Otherwise appends queue up here while a batch is
 * committed and form the next one, so the batch grows with the load and the fsync never
 * blocks the main thread. Each append is checked on its own: a version
 * conflict rejects that append and the appends queued behind it on the same stream (they
 * were decided on top of it), whether still here or already sent. The idempotency key is
 * checked there too, inside the transaction, once. Reads use this thread's own connection
 * (WAL lets them run beside the writer and see every committed batch).
 *
 * A full or failing disk (SQLITE_FULL, SQLITE_IOERR_…, ENOSPC) fails the batch it hit with
 * StoreUnavailableError — the node answers `unavailable`, nothing of it is acked, reads
 * go on — and the next batch simply tries again, so writes come back by themselves when
 * the disk has room. Should the writer thread itself die, it is started again (with
 * backoff) and the events it committed without reporting are fed to the listeners.
 */
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type {
  AppendOptions,
  AppendResult,
  EventStore,
  FeedListener,
  IdempotencyRecord,
  NewEvent,
  ReadStreamOptions,
  StoredEvent,
} from './port.js';
import { backoffDelay } from './backoff.js';
import { ConcurrencyError, StoreUnavailableError } from './errors.js';
import { idempotencyRecordsOf } from './sqlite-idempotency.js';

interface PendingAppend {
  stream: string;
  events: NewEvent[];
  options: AppendOptions;
  resolve: (r: AppendResult) => void;
  reject: (e: unknown) => void;
}

interface WriteError {
  error: string;
  code?: string;
}
type WriterOutcome =
  | { version: number; firstSeq: number; firstPosition: number }
  | { duplicate: { key: string; fingerprint: string; result: string }; version: number }
  | { conflict: number }
  | WriteError;
type BatchResult = { n: number } & ({ outcomes: WriterOutcome[] } | WriteError);
/** The writer's answer for the batches of one transaction. */
interface TransactionResults {
  results: BatchResult[];
}

/** A batch the writer committed, with what became of each of its appends. */
interface CommittedBatch {
  sent: SentBatch;
  outcomes: WriterOutcome[];
}

/** A batch sent to the writer and not yet answered. */
interface SentBatch {
  n: number;
  appends: PendingAppend[];
  started: number;
}

/** Errors of the disk or the file system, not of Parley: writes wait for them to pass. */
const DISK_FAILURE = /^(SQLITE_(FULL|IOERR|BUSY|LOCKED|NOMEM|CANTOPEN|READONLY)|ENOSPC|EIO|EDQUOT|EROFS|EMFILE|ENFILE)/;

/** StoreUnavailableError for a failing disk, a plain Error (a bug, `internal`) otherwise. */
export function writeFailure(message: string, code: string | undefined, file: string): Error {
  if (code && DISK_FAILURE.test(code)) {
    return new StoreUnavailableError(`cannot write the event store ${file}: ${message} (${code})`);
  }
  return new Error(`append failed: ${message}${code ? ` (${code})` : ''}`);
}

/**
 * A second batch goes to the writer while one is being committed only if that one has
 * fewer appends than this. Under light load that saves the round trip between the threads;
 * under heavy load the batches are large, and committing each small batch as soon as it
 * comes would cost an fsync (and its CPU) per event-loop turn: measured, it cut the fanout
 * scenario's saturation by a third.
 */
const PIPELINE_BELOW_APPENDS = 8;

/** Pauses before restarting a writer thread that died, growing while it keeps dying. */
const RESTART = { initialMs: 250, maxMs: 10_000 };

/** A row of the `events` table, as SQLite holds it (data and metadata as JSON text). */
export interface EventRow {
  position: number;
  stream: string;
  seq: number;
  id: string;
  type: string;
  data: string;
  metadata: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  position INTEGER PRIMARY KEY,
  stream   TEXT NOT NULL,
  seq      INTEGER NOT NULL,
  id       TEXT NOT NULL UNIQUE,
  type     TEXT NOT NULL,
  data     TEXT NOT NULL,
  metadata TEXT NOT NULL,
  UNIQUE (stream, seq)
);
CREATE TABLE IF NOT EXISTS idempotency (
  key         TEXT PRIMARY KEY,
  fingerprint TEXT NOT NULL,
  result      TEXT NOT NULL
) WITHOUT ROWID;
`;

export interface SqliteStoreOptions {
  /** Path of the SQLite file; ':memory:' only for throwaway tools, never for a node. */
  file: string;
  /** Observes each group commit: how many appends and events it carried, how long it took. */
  onBatch?: (appends: number, events: number, seconds: number) => void;
  /** Told when a batch could not be committed (full disk, I/O error) or the writer thread died. */
  onWriteFailure?: (err: Error) => void;
}

export class SqliteEventStore implements EventStore {
  readonly kind = 'sqlite';
  readonly db: Database.Database;
  private readonly versions = new Map<string, number>();
  private head: number;
  private pending: PendingAppend[] = [];
  private flushScheduled = false;
  /** Sent to the current writer, oldest first; answered in this order. */
  private inFlight: SentBatch[] = [];
  /** Numbers of the last batch sent to the current writer and the last one answered. */
  private sent = 0;
  private answered = 0;
  /** Undefined while a writer thread that died waits to be started again. */
  private writer: Worker | undefined;
  /** The current writer's batch port. */
  private batches: MessagePort | undefined;
  /** The current writer has opened the file; batches go to it only then. */
  private writerReady = false;
  /** Some writer has opened the file: one that dies now is restarted, not a start-up failure. */
  private writerOpened = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private restarts = 0;
  private drained: (() => void) | null = null;
  private failure: Error | null = null;
  private readonly listeners = new Set<FeedListener>();
  private closed = false;
  private readonly stmts;

  constructor(private readonly options: SqliteStoreOptions) {
    this.db = new Database(options.file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    this.stmts = {
      version: this.db.prepare('SELECT max(seq) AS v FROM events WHERE stream = ?').pluck(),
      head: this.db.prepare('SELECT max(position) FROM events').pluck(),
      forward: this.db.prepare(
        'SELECT * FROM events WHERE stream = ? AND seq > ? ORDER BY seq ASC LIMIT ?',
      ),
      backward: this.db.prepare(
        'SELECT * FROM events WHERE stream = ? AND seq < ? ORDER BY seq DESC LIMIT ?',
      ),
      all: this.db.prepare('SELECT * FROM events WHERE position > ? ORDER BY position ASC LIMIT ?'),
      findKey: this.db.prepare('SELECT key, fingerprint, result FROM idempotency WHERE key = ?'),
    };
    this.head = (this.stmts.head.get() as number | null) ?? 0;
    this.writer = this.startWriter();
  }

  private startWriter(): Worker {
    const { port1, port2 } = new MessageChannel();
    const writer = new Worker(new URL('./sqlite-writer.js', import.meta.url), {
      workerData: { file: this.options.file, batches: port2 },
      transferList: [port2],
    });
    this.batches = port1;
    this.sent = 0;
    this.answered = 0;
    port1.on('message', (first: TransactionResults) => {
      if (port1 !== this.batches) return; // a lost writer's last words: its batches were already failed
      // Every answer that queued up while this thread was busy, settled together: one
      // feed update for all of them (read models and fan-out pay per update, not per event).
      const transactions = [first.results];
      for (let next = receiveMessageOnPort(port1); next; next = receiveMessageOnPort(port1)) {
        transactions.push((next.message as TransactionResults).results);
      }
      this.committed(transactions);
    });
    writer.on('message', (reply: { ready: true }) => {
      if (writer === this.writer && reply.ready) this.ready(writer);
    });
    writer.on('error', (err) => this.writerLost(writer, err));
    writer.on('exit', (code) => this.writerLost(writer, new Error(`the SQLite writer thread exited (${code})`)));
    return writer;
  }

  private ready(writer: Worker): void {
    if (writer !== this.writer) return;
    const restarted = this.writerOpened;
    this.writerOpened = true;
    // A writer that died may have committed a batch it never reported: feed it now, before
    // the new writer gets a batch (whose events must be fed once, by settle()).
    if (restarted) this.catchUpFeed();
    this.writerReady = true;
    if (this.pending.length > 0 && this.inFlight.length === 0) this.flush();
  }

  /**
   * The writer thread died. What it was committing may or may not be in the log, so those
   * appends fail as unavailable (retried with the same command id they are deduplicated).
   * A writer that never opened the file is a start-up failure and stays one; a writer that
   * ran is started again after a backoff, and appends fail fast meanwhile.
   */
  private writerLost(writer: Worker, err: Error): void {
    if (writer !== this.writer) return;
    this.writer = undefined;
    this.writerReady = false;
    this.batches?.close();
    this.batches = undefined;
    void writer.terminate().catch(() => undefined);
    if (!this.writerOpened || this.closed) {
      this.broken(new StoreUnavailableError(`cannot open the event store ${this.options.file} for writing: ${err.message}`, { cause: err }));
      return;
    }
    const lost = new StoreUnavailableError(`the event store's writer thread failed: ${err.message}`, { cause: err });
    this.options.onWriteFailure?.(lost);
    this.versions.clear();
    const waiting = [...this.inFlight.flatMap((b) => b.appends), ...this.pending];
    this.inFlight = [];
    this.pending = [];
    for (const req of waiting) req.reject(lost);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.closed) this.writer = this.startWriter();
    }, backoffDelay(this.restarts++, RESTART));
  }

  append(stream: string, events: NewEvent[], options: AppendOptions): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new Error('event store is closed'));
    if (this.failure) return Promise.reject(this.failure);
    if (!this.writer) return Promise.reject(new StoreUnavailableError("the event store's writer thread is restarting"));
    return new Promise((resolve, reject) => {
      this.pending.push({ stream, events, options, resolve, reject });
      if (!this.flushScheduled && this.canSend()) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** At most two batches in flight, the second only behind a small one (PIPELINE_BELOW_APPENDS). */
  private canSend(): boolean {
    const [first, second] = this.inFlight;
    return !first || (!second && first.appends.length < PIPELINE_BELOW_APPENDS);
  }

  /** Sends everything that queued up to the writer as one batch (committed in one transaction). */
  private flush(): void {
    this.flushScheduled = false;
    if (!this.canSend() || this.pending.length === 0 || !this.batches || !this.writerReady) return;
    const appends = this.pending;
    this.pending = [];
    const n = this.sent + 1;
    // One string: cloning it to the writer is one copy, where a batch of objects is cloned
    // value by value on this thread (the writer turns data and metadata into text).
    let message: string;
    try {
      message = JSON.stringify({ n, seen: this.answered, appends: appends.map(toWriter) });
    } catch {
      this.pending = withoutUnencodable(appends);
      if (this.pending.length > 0) this.flush();
      return;
    }
    this.sent = n;
    this.inFlight.push({ n, appends, started: performance.now() });
    this.batches.postMessage(message);
  }

  /**
   * The writer's answers for the batches of one or more transactions, in the order they
   * were sent (each transaction all committed, or all rolled back).
   */
  private committed(transactions: BatchResult[][]): void {
    const settled: CommittedBatch[][] = [];
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
      const failure = results.find((r): r is BatchResult & WriteError => 'error' in r);
      if (failure && rolledBack.length > 0) this.failed(rolledBack, failure);
      if (committed.length > 0) settled.push(committed);
    }
    if (settled.length > 0) {
      this.restarts = 0;
      this.settle(settled);
    }
    if (this.pending.length > 0) this.flush();
    else if (this.inFlight.length === 0) this.drained?.();
  }

  /** The transaction rolled back (disk full, I/O error, duplicate event id): nothing of it is acked. */
  private failed(rolledBack: SentBatch[], reply: WriteError): void {
    this.versions.clear();
    const err = writeFailure(reply.error, reply.code, this.options.file);
    this.options.onWriteFailure?.(err);
    const appends = rolledBack.flatMap((sent) => sent.appends);
    // Appends queued behind it on the same streams were decided on top of its events
    // (those already sent, the writer fails itself).
    const failed = new Set(appends.filter((req) => req.options.expectedVersion !== 'any').map((req) => req.stream));
    this.pending = this.pending.filter((req) => {
      if (req.options.expectedVersion === 'any' || !failed.has(req.stream)) return true;
      req.reject(err);
      return false;
    });
    for (const req of appends) req.reject(err);
    this.catchUpFeed();
  }

  /** Answers the appends of the batches of committed transactions, after one feed update. */
  private settle(transactions: CommittedBatch[][]): void {
    const now = performance.now();
    const appended: StoredEvent[] = [];
    const answers = transactions.flatMap((batches) => {
      const results = batches.map(({ sent, outcomes }) => this.outcomesOf(sent, outcomes));
      const events = results.flatMap((batch) => batch.flatMap((r) => (r instanceof Error ? [] : r.events)));
      const appends = batches.reduce((sum, { sent }) => sum + sent.appends.length, 0);
      this.options.onBatch?.(appends, events.length, (now - batches[0]!.sent.started) / 1000);
      appended.push(...events);
      return batches.map(({ sent }, b) => ({ sent, results: results[b]! }));
    });
    // The feed sees the events before the appenders hear back, so in-process read models
    // are up to date by the time a client gets its ack. A failure answered with them may
    // have fed them already (catchUpFeed reads the log): not twice.
    const unfed = appended.length > 0 && appended[0]!.position <= this.head ? appended.filter((e) => e.position > this.head) : appended;
    if (unfed.length > 0) {
      this.head = unfed[unfed.length - 1]!.position;
      this.emit(unfed);
    }
    for (const { sent, results } of answers) {
      sent.appends.forEach((req, i) => {
        const r = results[i]!;
        if (r instanceof Error) req.reject(r);
        else req.resolve(r);
      });
    }
  }

  /** What each append of a committed batch comes to; fails the appends queued here behind a failed one. */
  private outcomesOf(sent: SentBatch, outcomes: WriterOutcome[]): Array<AppendResult | Error> {
    const results: Array<AppendResult | Error> = [];
    /** Streams with a failed dependent append, and the write failure behind it if it was one. */
    const broken = new Map<string, Error | undefined>();
    sent.appends.forEach((req, i) => {
      const o = outcomes[i]!;
      const dependent = req.options.expectedVersion !== 'any';
      if ('conflict' in o) {
        if (dependent) broken.set(req.stream, undefined);
        results.push(new ConcurrencyError(req.stream, req.options.expectedVersion, o.conflict));
      } else if ('error' in o) {
        // Sent behind a batch that rolled back, on the same stream: decided on top of it.
        const err = writeFailure(o.error, o.code, this.options.file);
        if (dependent) broken.set(req.stream, err);
        results.push(err);
      } else if ('duplicate' in o) {
        if (dependent && req.events.length > 0) broken.set(req.stream, undefined);
        const duplicate = { key: o.duplicate.key, fingerprint: o.duplicate.fingerprint, result: JSON.parse(o.duplicate.result) };
        results.push({ stream: req.stream, version: o.version, events: [], duplicate });
      } else {
        const stored = req.events.map((e, j) => ({
          stream: req.stream,
          seq: o.firstSeq + j,
          position: o.firstPosition + j,
          id: e.id,
          type: e.type,
          data: e.data,
          metadata: e.metadata,
        }));
        this.versions.set(req.stream, o.version);
        results.push({ stream: req.stream, version: o.version, events: stored, duplicate: null });
      }
    });
    // Appends still queued here behind a failed one were decided on top of its events:
    // they fail too (the caller retries them on fresh state).
    if (broken.size > 0) {
      this.pending = this.pending.filter((req) => {
        if (req.options.expectedVersion === 'any' || !broken.has(req.stream)) return true;
        req.reject(broken.get(req.stream) ?? new ConcurrencyError(req.stream, req.options.expectedVersion, this.versions.get(req.stream) ?? -1));
        return false;
      });
    }
    return results;
  }

  /**
   * Feeds events in the log past the head this thread knows of. A clean rollback leaves
   * none; a writer that died after its commit, or a commit reported failed whose data did
   * reach the disk, leaves some — and every event in the log must reach the listeners.
   */
  private catchUpFeed(): void {
    try {
      for (;;) {
        const rows = this.readAllSync(this.head, 1000);
        if (rows.length === 0) return;
        this.head = rows[rows.length - 1]!.position;
        this.emit(rows);
      }
    } catch {
      // Unreadable for now; the next failure or restart looks again.
    }
  }

  private broken(err: Error): void {
    this.failure = err;
    const waiting = [...this.inFlight.flatMap((b) => b.appends), ...this.pending];
    this.inFlight = [];
    this.pending = [];
    for (const req of waiting) req.reject(err);
    this.drained?.();
  }

  private emit(events: StoredEvent[]): void {
    for (const listener of this.listeners) {
      try {
        listener(events);
      } catch (err) {
        // A faulty listener must not break durability or other listeners.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  private readKey(key: string): IdempotencyRecord | undefined {
    const row = this.stmts.findKey.get(key) as { key: string; fingerprint: string; result: string } | undefined;
    return row ? { key: row.key, fingerprint: row.fingerprint, result: JSON.parse(row.result) } : undefined;
  }

  private versionOf(stream: string): number {
    let v = this.versions.get(stream);
    if (v === undefined) {
      v = (this.stmts.version.get(stream) as number | null) ?? 0;
      this.versions.set(stream, v);
    }
    return v;
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<StoredEvent[]> {
    const limit = options.limit ?? 1000;
    const rows =
      options.beforeSeq !== undefined
        ? this.stmts.backward.all(stream, options.beforeSeq, limit)
        : this.stmts.forward.all(stream, options.afterSeq ?? 0, limit);
    return (rows as EventRow[]).map(toStored);
  }

  async readAll(afterPosition: number, limit: number): Promise<StoredEvent[]> {
    return this.readAllSync(afterPosition, limit);
  }

  /** Synchronous form for tools that scan the whole log in one go (replay, export). */
  readAllSync(afterPosition: number, limit: number): StoredEvent[] {
    return (this.stmts.all.all(afterPosition, limit) as EventRow[]).map(toStored);
  }

  async streamVersion(stream: string): Promise<number> {
    return this.versionOf(stream);
  }

  async headPosition(): Promise<number> {
    return this.head;
  }

  async findIdempotency(key: string): Promise<IdempotencyRecord | undefined> {
    return this.readKey(key);
  }

  idempotencyRecords(): AsyncIterable<IdempotencyRecord> {
    return idempotencyRecordsOf(this.db);
  }

  subscribe(listener: FeedListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Appends already accepted are committed (and answered) before the store closes.
    if (this.inFlight.length > 0 || this.pending.length > 0) {
      await new Promise<void>((resolve) => {
        this.drained = resolve;
        if (this.inFlight.length === 0) this.flush();
      });
    }
    this.listeners.clear();
    clearTimeout(this.restartTimer);
    await this.writer?.terminate();
    this.batches?.close();
    this.db.close();
  }
}

/** The appends JSON can hold; the others (a bug upstream: a BigInt, a cycle) are rejected. */
function withoutUnencodable(appends: PendingAppend[]): PendingAppend[] {
  return appends.filter((req) => {
    try {
      JSON.stringify(toWriter(req));
      return true;
    } catch (err) {
      req.reject(new Error(`append to ${req.stream}: its events cannot be stored as JSON`, { cause: err }));
      return false;
    }
  });
}

/** An append as the writer takes it (see sqlite-writer.js). */
function toWriter(req: PendingAppend) {
  const idempotency = req.options.idempotency;
  return {
    stream: req.stream,
    expected: req.options.expectedVersion,
    events: req.events,
    ...(idempotency && { key: idempotency.key, legacyKey: req.options.legacyKey, fingerprint: idempotency.fingerprint, result: idempotency.result }),
  };
}

function toStored(row: EventRow): StoredEvent {
  return {
    stream: row.stream,
    seq: row.seq,
    position: row.position,
    id: row.id,
    type: row.type,
    data: JSON.parse(row.data),
    metadata: JSON.parse(row.metadata),
  };
}
