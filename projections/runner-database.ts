/**
 * The read-model database as the runner uses it: how it is opened, where checkpoints are
 * kept (`projection_checkpoints`, updated in the same transaction as each read model), and
 * how a write transaction is taken and cleaned up after a failure.
 */
import Database from 'better-sqlite3';
import type { LogCursor } from '../engine/store/index.js';
import type { Projection } from './projection.js';
import { prepared } from './prepared.js';
import { storedToken } from './stored-checkpoint.js';

/** Opens (or creates) a read-model database tuned for rebuildable data. */
export function openReadModelDatabase(file: string): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // Read models are rebuilt from the log after a crash, so they need no fsync per commit.
  db.pragma('synchronous = NORMAL');
  db.pragma('cache_size = -65536'); // 64 MiB: rebuilds of large logs stay in memory longer
  return db;
}

export function createCheckpointTable(db: Database.Database): void {
  db.exec(`CREATE TABLE IF NOT EXISTS projection_checkpoints (
      name TEXT PRIMARY KEY, version INTEGER NOT NULL, position INTEGER NOT NULL
    ) WITHOUT ROWID`);
}

/** The stored checkpoint of a projection: its version and its cursor token (a plain number on an unpartitioned log). */
export function readCheckpoint(db: Database.Database, name: string): { version: number; position: number | string } | undefined {
  return prepared(db, 'SELECT version, position FROM projection_checkpoints WHERE name = ?').get(name) as
    | { version: number; position: number | string }
    | undefined;
}

export function saveCheckpoint(db: Database.Database, p: Projection, checkpoint: LogCursor): void {
  prepared(
    db,
    'INSERT INTO projection_checkpoints VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET version = excluded.version, position = excluded.position',
  ).run(p.name, p.version, storedToken(checkpoint));
}

/**
 * A transaction that takes the write lock when it begins (nested: a savepoint). The file
 * may have another writer (the read-model thread beside projections on the main thread):
 * a deferred transaction that read first could not wait for that writer, it would fail
 * with SQLITE_BUSY at once; this one waits for it (busy_timeout).
 */
export function writeTransaction<T>(db: Database.Database, fn: () => T): T {
  return db.transaction(fn).immediate();
}

/** After a failed statement SQLite may leave the transaction open (or have closed it itself). */
export function rollbackLeftover(db: Database.Database): void {
  try {
    if (db.inTransaction) db.exec('ROLLBACK');
  } catch {
    // The connection rolls back on its own when it can; the next attempt starts fresh.
  }
}
