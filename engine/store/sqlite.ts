/**
 * The embedded event store: one SQLite file in WAL mode with synchronous=FULL, so a
 * committed transaction is fsync'd before any append resolves.
 *
 * Group commit: appends that arrive in the same turn of the event loop are written in one
 * transaction (one fsync). While better-sqlite3 commits synchronously, new requests queue
 * up in the sockets and form the next batch, so the batch grows with the load. Each append
 * in a batch is checked on its own: a version conflict rejects that append only.
 */
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
import { ConcurrencyError } from './errors.js';

interface PendingAppend {
  stream: string;
  events: NewEvent[];
  options: AppendOptions;
  resolve: (r: AppendResult) => void;
  reject: (e: unknown) => void;
}

interface EventRow {
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
}

export class SqliteEventStore implements EventStore {
  readonly kind = 'sqlite';
  readonly db: Database.Database;
  private readonly versions = new Map<string, number>();
  private head: number;
  private pending: PendingAppend[] = [];
  private flushScheduled = false;
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
      insert: this.db.prepare(
        'INSERT INTO events (position, stream, seq, id, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
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
      insertKey: this.db.prepare('INSERT INTO idempotency (key, fingerprint, result) VALUES (?, ?, ?)'),
    };
    this.head = (this.stmts.head.get() as number | null) ?? 0;
  }

  append(stream: string, events: NewEvent[], options: AppendOptions): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new Error('event store is closed'));
    return new Promise((resolve, reject) => {
      this.pending.push({ stream, events, options, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    const started = performance.now();
    const outcomes: Array<{ ok: AppendResult } | { err: unknown }> = [];
    const staged = new Map<string, number>();
    let head = this.head;
    try {
      this.db.transaction(() => {
        for (const req of batch) {
          const key = req.options.idempotency?.key;
          const prior = key ? this.readKey(key) : undefined;
          const current = staged.get(req.stream) ?? this.versionOf(req.stream);
          if (prior) {
            outcomes.push({ ok: { stream: req.stream, version: current, events: [], duplicate: prior } });
            continue;
          }
          const expected = req.options.expectedVersion;
          if (expected !== 'any' && expected !== current) {
            outcomes.push({ err: new ConcurrencyError(req.stream, expected, current) });
            continue;
          }
          const stored: StoredEvent[] = [];
          let seq = current;
          for (const e of req.events) {
            seq += 1;
            head += 1;
            const data = JSON.stringify(e.data);
            const metadata = JSON.stringify(e.metadata);
            this.stmts.insert.run(head, req.stream, seq, e.id, e.type, data, metadata);
            stored.push({ stream: req.stream, seq, position: head, id: e.id, type: e.type, data: e.data, metadata: e.metadata });
          }
          if (req.options.idempotency) {
            const { key: k, fingerprint, result } = req.options.idempotency;
            this.stmts.insertKey.run(k, fingerprint, JSON.stringify(result));
          }
          staged.set(req.stream, seq);
          outcomes.push({ ok: { stream: req.stream, version: seq, events: stored, duplicate: null } });
        }
      })();
    } catch (err) {
      // The whole batch rolled back (disk full, I/O error, duplicate event id): nothing
      // of it is in the log, so every append in it fails.
      this.versions.clear();
      for (const req of batch) req.reject(err);
      return;
    }
    this.head = head;
    for (const [stream, v] of staged) this.versions.set(stream, v);
    const appended: StoredEvent[] = [];
    for (const o of outcomes) if ('ok' in o) appended.push(...o.ok.events);
    this.options.onBatch?.(batch.length, appended.length, (performance.now() - started) / 1000);
    // The feed sees the batch before the appenders hear back, so in-process read models
    // are up to date by the time a client gets its ack.
    if (appended.length > 0) this.emit(appended);
    batch.forEach((req, i) => {
      const o = outcomes[i]!;
      if ('ok' in o) req.resolve(o.ok);
      else req.reject(o.err);
    });
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

  subscribe(listener: FeedListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.pending.length > 0) this.flush();
    this.listeners.clear();
    this.db.close();
  }
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
