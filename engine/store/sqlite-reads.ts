/**
 * Reads of the embedded store, on the main thread's own connection: WAL lets them run
 * beside the writer thread and see every batch it committed. Synchronous, because
 * better-sqlite3 is, and quick (each is one indexed query with a limit).
 */
import type Database from 'better-sqlite3';
import type { IdempotencyRecord, ReadStreamOptions, StoredEvent } from './port.js';
import type { EventRow } from './sqlite-schema.js';

/** The store's prepared read statements, returning events as the port shapes them. */
export class SqliteReads {
  private readonly stmts;

  constructor(db: Database.Database) {
    this.stmts = {
      version: db.prepare('SELECT max(seq) AS v FROM events WHERE stream = ?').pluck(),
      head: db.prepare('SELECT max(position) FROM events').pluck(),
      forward: db.prepare('SELECT * FROM events WHERE stream = ? AND seq > ? ORDER BY seq ASC LIMIT ?'),
      backward: db.prepare('SELECT * FROM events WHERE stream = ? AND seq < ? ORDER BY seq DESC LIMIT ?'),
      all: db.prepare('SELECT * FROM events WHERE position > ? ORDER BY position ASC LIMIT ?'),
      findKey: db.prepare('SELECT key, fingerprint, result FROM idempotency WHERE key = ?'),
    };
  }

  /** Events of one stream in seq order (ascending, or descending with beforeSeq). */
  stream(stream: string, options: ReadStreamOptions = {}): StoredEvent[] {
    const limit = options.limit ?? 1000;
    const rows =
      options.beforeSeq !== undefined
        ? this.stmts.backward.all(stream, options.beforeSeq, limit)
        : this.stmts.forward.all(stream, options.afterSeq ?? 0, limit);
    return (rows as EventRow[]).map(toStored);
  }

  /** Events of every stream in position order, after `afterPosition`. */
  all(afterPosition: number, limit: number): StoredEvent[] {
    return (this.stmts.all.all(afterPosition, limit) as EventRow[]).map(toStored);
  }

  /** The position of the newest committed event (0 when the log is empty). */
  head(): number {
    return (this.stmts.head.get() as number | null) ?? 0;
  }

  /** The stream's committed version (0 when it has no events). */
  version(stream: string): number {
    return (this.stmts.version.get(stream) as number | null) ?? 0;
  }

  /** The idempotency record committed under `key`, if any. */
  idempotency(key: string): IdempotencyRecord | undefined {
    const row = this.stmts.findKey.get(key) as { key: string; fingerprint: string; result: string } | undefined;
    return row ? { key: row.key, fingerprint: row.fingerprint, result: JSON.parse(row.result) } : undefined;
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
