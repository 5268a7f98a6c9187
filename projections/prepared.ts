import type Database from 'better-sqlite3';

const cache = new WeakMap<Database.Database, Map<string, Database.Statement>>();

/** A prepared statement for this database, compiled once and reused (hot paths run it per event). */
export function prepared(db: Database.Database, sql: string): Database.Statement {
  let byDb = cache.get(db);
  if (!byDb) cache.set(db, (byDb = new Map()));
  let stmt = byDb.get(sql);
  if (!stmt) byDb.set(sql, (stmt = db.prepare(sql)));
  return stmt;
}

/** Rows per multi-row INSERT: 3-column rows stay far below SQLite's limit on parameters. */
const ROWS_PER_STATEMENT = 64;

/**
 * Inserts rows of `width` values (`values`, row after row) with `insert` (`INSERT … VALUES`
 * without the tuple: the tuples are appended), as many rows per statement as fit: one
 * statement run costs several times one row's insert, and a bulk load writes hundreds of
 * thousands. Rows go in in order, as one statement per row would put them.
 */
export function insertRows(db: Database.Database, insert: string, width: number, values: unknown[]): void {
  const tuple = `(${Array.from({ length: width }, () => '?').join(', ')})`;
  const perStatement = width * ROWS_PER_STATEMENT;
  let at = 0;
  if (values.length >= perStatement) {
    const many = prepared(db, `${insert} ${Array.from({ length: ROWS_PER_STATEMENT }, () => tuple).join(', ')}`);
    for (; at + perStatement <= values.length; at += perStatement) many.run(values.slice(at, at + perStatement));
  }
  if (at < values.length) {
    const one = prepared(db, `${insert} ${tuple}`);
    for (; at < values.length; at += width) one.run(values.slice(at, at + width));
  }
}
