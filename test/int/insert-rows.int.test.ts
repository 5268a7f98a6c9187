/**
 * insertRows (projections/prepared.ts): many rows per statement must leave a table exactly
 * as one statement per row does — same rows, same order (row ids), same conflicts ignored.
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { insertRows } from '../../projections/prepared.js';

function table(): Database.Database {
  const db = new Database(':memory:');
  db.exec('CREATE TABLE t (k TEXT NOT NULL, n INTEGER NOT NULL, UNIQUE (k))');
  return db;
}

/** Row values for `count` rows, with repeated keys so OR IGNORE drops some, within and across statements. */
function values(count: number): Array<string | number> {
  const out: Array<string | number> = [];
  for (let i = 0; i < count; i++) out.push(`k${(i * 7) % Math.ceil(count * 0.8)}`, i);
  return out;
}

describe('insertRows', () => {
  it.each([0, 1, 63, 64, 65, 200, 1000])('leaves %i rows as one insert per row would', (count) => {
    const one = table();
    const many = table();
    const rows = values(count);
    const single = one.prepare('INSERT OR IGNORE INTO t VALUES (?, ?)');
    for (let i = 0; i < rows.length; i += 2) single.run(rows[i], rows[i + 1]);
    insertRows(many, 'INSERT OR IGNORE INTO t VALUES', 2, rows);
    const dump = (db: Database.Database) => db.prepare('SELECT rowid, k, n FROM t ORDER BY rowid').raw().all();
    expect(dump(many)).toEqual(dump(one));
    if (count > 0) expect(dump(many).length).toBeGreaterThan(0);
  });
});
