/**
 * The embedded event store: one SQLite file (sqlite-schema.ts) written by a writer thread
 * with group commit, one transaction and one fsync per batch (sqlite-writer.js, and this
 * thread's side of it in sqlite-group-commit.ts), read on this thread's own connection
 * (sqlite-reads.ts), its commits fed to the listeners in position order
 * (sqlite-feed.ts). This class is the EventStore port over those parts, and decides what
 * becomes of the store when its writer thread dies (sqlite-writer-thread.ts).
 *
 * A full or failing disk fails the batch it hit with StoreUnavailableError and the next
 * batch tries again (sqlite-writer-protocol.ts). Should the writer thread itself die, what
 * it was committing fails as unavailable, it is started again (with backoff), and the
 * events it committed without reporting are fed to the listeners before the new writer
 * takes a batch. A writer that never opened the file is a start-up failure and stays one.
 */
import type Database from 'better-sqlite3';
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
import { BoundedMap } from './bounded-map.js';
import { StoreUnavailableError } from './errors.js';
import { CommittedFeed } from './sqlite-feed.js';
import { idempotencyRecordsOf } from './sqlite-idempotency.js';
import { GroupCommit } from './sqlite-group-commit.js';
import { SqliteReads } from './sqlite-reads.js';
import { openEventsFile } from './sqlite-schema.js';
import { WriterThread } from './sqlite-writer-thread.js';
import { DEFAULT_WAL_HARD_BYTES, WalCheckpointer, journalSizeLimit, type CheckpointReport, type WalCheckpointSettings } from './sqlite-checkpoints.js';

/** Stream versions kept in memory (stream names come from clients); a missing one is read from the log. */
const CACHED_VERSIONS = 100_000;

export interface SqliteStoreOptions {
  /** Path of the SQLite file; ':memory:' only for throwaway tools, never for a node. */
  file: string;
  /** Observes each group commit: how many appends and events it carried, how long it took. */
  onBatch?: (appends: number, events: number, seconds: number) => void;
  /**
   * Observes each transaction's time in the writer thread, its fsync included: what of an
   * append's wait (onBatch's seconds) is the disk, and what the queue and the hand-offs.
   */
  onTransaction?: (seconds: number) => void;
  /** Told when a batch could not be committed (full disk, I/O error) or the writer thread died. */
  onWriteFailure?: (err: Error) => void;
  /** When the WAL is checkpointed (off the commit path, sqlite-checkpointer.js) and how far it may grow. */
  checkpoints?: WalCheckpointSettings;
  /** Observes each checkpoint that did something. */
  onCheckpoint?: (report: CheckpointReport) => void;
  /** Told when a checkpoint failed or the checkpointer thread died (both are retried; appends go on). */
  onCheckpointFailure?: (err: Error) => void;
}

/** The embedded EventStore: durable appends through the writer thread, reads and feed on this one. */
export class SqliteEventStore implements EventStore {
  readonly kind = 'sqlite';
  readonly db: Database.Database;
  private readonly reads: SqliteReads;
  private readonly feed: CommittedFeed;
  private readonly versions = new BoundedMap<string, number>(CACHED_VERSIONS);
  private readonly writer: WriterThread;
  private readonly commits: GroupCommit;
  /** Started after the first commit: a store that is only read has no WAL to checkpoint. */
  private readonly checkpointer: WalCheckpointer | undefined;
  /** Set when the store cannot write at all (its writer never opened the file). */
  private failure: Error | null = null;
  private closed = false;

  constructor(private readonly options: SqliteStoreOptions) {
    this.db = openEventsFile(options.file);
    this.reads = new SqliteReads(this.db);
    this.feed = new CommittedFeed(this.reads.head(), (after, limit) => this.reads.all(after, limit));
    const hardBytes = options.checkpoints?.hardBytes ?? DEFAULT_WAL_HARD_BYTES;
    this.checkpointer =
      options.file === ':memory:'
        ? undefined
        : new WalCheckpointer({ file: options.file, ...options.checkpoints, onCheckpoint: options.onCheckpoint, onFailure: options.onCheckpointFailure });
    this.writer = new WriterThread(options.file, journalSizeLimit(hardBytes), {
      onReady: (restarted) => this.writerReady(restarted),
      onAnswers: (transactions) => this.commits.answers(transactions),
      onTransaction: options.onTransaction,
      onLost: (err, opened) => this.writerLost(err, opened),
    });
    this.commits = new GroupCommit({
      file: options.file,
      writer: this.writer,
      versions: this.versions,
      feed: this.feed,
      // The checkpointer starts once the writer has committed: not beside the writer's own
      // start-up, and not at all for a store that is only read.
      onBatch: (appends, events, seconds) => {
        this.checkpointer?.start();
        options.onBatch?.(appends, events, seconds);
      },
      onWriteFailure: options.onWriteFailure,
    });
    this.writer.start();
  }

  append(stream: string, events: NewEvent[], options: AppendOptions): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new Error('event store is closed'));
    if (this.failure) return Promise.reject(this.failure);
    if (!this.writer.running) return Promise.reject(new StoreUnavailableError("the event store's writer thread is restarting"));
    return this.commits.enqueue(stream, events, options);
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<StoredEvent[]> {
    return this.reads.stream(stream, options);
  }

  async readAll(afterPosition: number, limit: number): Promise<StoredEvent[]> {
    return this.reads.all(afterPosition, limit);
  }

  /** Synchronous form for tools that scan the whole log in one go (replay, export). */
  readAllSync(afterPosition: number, limit: number): StoredEvent[] {
    return this.reads.all(afterPosition, limit);
  }

  async streamVersion(stream: string): Promise<number> {
    let v = this.versions.get(stream);
    if (v === undefined) {
      v = this.reads.version(stream);
      this.versions.set(stream, v);
    }
    return v;
  }

  async headPosition(): Promise<number> {
    return this.feed.position;
  }

  async findIdempotency(key: string): Promise<IdempotencyRecord | undefined> {
    return this.reads.idempotency(key);
  }

  idempotencyRecords(): AsyncIterable<IdempotencyRecord> {
    return idempotencyRecordsOf(this.db);
  }

  subscribe(listener: FeedListener): () => void {
    return this.feed.subscribe(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Appends already accepted are committed (and answered) before the store closes.
    await this.commits.drain();
    this.feed.clear();
    await this.writer.close();
    await this.checkpointer?.stop();
    // The last connection to close checkpoints the whole WAL and removes it: the file is whole.
    this.db.close();
  }

  private writerReady(restarted: boolean): void {
    // A writer that died may have committed a batch it never reported: feed it now, before
    // the new writer gets a batch (whose events must be fed once, by the group commit).
    if (restarted) this.feed.catchUp();
    this.commits.writerReady();
  }

  /**
   * The writer thread died. What it was committing may or may not be in the log, so those
   * appends fail as unavailable (retried with the same command id they are deduplicated).
   * A writer that never opened the file is a start-up failure and stays one; a writer that
   * ran is started again after a backoff, and appends fail fast meanwhile.
   */
  private writerLost(err: Error, opened: boolean): void {
    if (!opened || this.closed) {
      this.failure = new StoreUnavailableError(`cannot open the event store ${this.options.file} for writing: ${err.message}`, { cause: err });
      this.commits.failAll(this.failure);
      return;
    }
    const lost = new StoreUnavailableError(`the event store's writer thread failed: ${err.message}`, { cause: err });
    this.options.onWriteFailure?.(lost);
    this.versions.clear();
    this.commits.failAll(lost);
    this.writer.restartLater(() => !this.closed);
  }
}
