/**
 * Which tables a projection owns, found by running its `setup` on an empty database (the
 * Projection interface does not name them), and their rows in a comparable form.
 */
import Database from 'better-sqlite3';
import type { Projection } from '../../projections/index.js';

/** Tables (and FTS-style virtual tables, without their shadow tables) the projection creates. */
export function projectionTables(projection: Projection): string[] {
  const db = new Database(':memory:');
  try {
    projection.setup(db);
    const rows = db.prepare('PRAGMA table_list').all() as Array<{ schema: string; name: string; type: string }>;
    return rows
      .filter((r) => r.schema === 'main' && (r.type === 'table' || r.type === 'virtual') && !r.name.startsWith('sqlite_'))
      .map((r) => r.name)
      .sort();
  } finally {
    db.close();
  }
}

export function tableExists(db: Database.Database, table: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE name = ? AND type = 'table'").get(table) !== undefined;
}

export function tableRows(db: Database.Database, table: string): Array<Record<string, unknown>> {
  return db.prepare(`SELECT * FROM "${table.replaceAll('"', '""')}"`).all() as Array<Record<string, unknown>>;
}

/** Rows as sorted JSON strings (columns in the given order), so two tables compare as multisets. */
export function canonicalRows(db: Database.Database, table: string, columns: string[]): string[] {
  const list = columns.map((c) => `"${c.replaceAll('"', '""')}"`).join(', ');
  const rows = db.prepare(`SELECT ${list} FROM "${table.replaceAll('"', '""')}"`).raw().all() as unknown[][];
  // Blobs serialize through Buffer#toJSON, which is enough to compare them.
  return rows.map((r) => JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))).sort();
}

export function columnsOf(db: Database.Database, table: string): string[] {
  return (db.prepare(`PRAGMA table_info("${table.replaceAll('"', '""')}")`).all() as Array<{ name: string }>).map((c) => c.name);
}
