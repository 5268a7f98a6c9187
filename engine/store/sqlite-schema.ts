/**
 * The embedded store's file: one SQLite database in WAL mode with synchronous=FULL, so a
 * committed transaction is fsync'd before any append resolves, and WAL lets this thread's
 * reads run beside the writer thread's commits (sqlite-writer.js opens the same file the
 * same way). Two tables: the log, and the idempotency records committed with its events.
 */
import Database from 'better-sqlite3';

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

/** Opens (creating if need be) the store's file for this thread's reads. */
export function openEventsFile(file: string): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.exec(SCHEMA);
  return db;
}
