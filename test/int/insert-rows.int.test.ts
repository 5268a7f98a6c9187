/**
 * insertRows (projections/prepared.ts): many rows per statement must leave a table exactly
 * as one statement per row does — same rows, same order (row ids), same conflicts ignored.
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { insertRows } from '../../projections/prepared.js';

/** A table of `width` columns, the first unique. */
function table(width: number): Database.Database {
  const db = new Database(':memory:');
  const more = Array.from({ length: width - 1 }, (_, i) => `c${i} INTEGER NOT NULL`).join(', ');
  db.exec(`CREATE TABLE t (k TEXT NOT NULL UNIQUE, ${more})`);
  return db;
}

/** Row values for `count` rows, with repeated keys so OR IGNORE drops some, within and across statements. */
function values(count: number, width: number): Array<string | number> {
  const out: Array<string | number> = [];
  for (let i = 0; i < count; i++) {
    out.push(`k${(i * 7) % Math.ceil(count * 0.8)}`);
    for (let c = 1; c < width; c++) out.push(i * width + c);
  }
  return out;
}

describe('insertRows', () => {
  const cases = [0, 1, 63, 64, 65, 200, 1000].flatMap((count) => [2, 3, 5].map((width) => [count, width]));
  it.each(cases)('leaves %i rows of %i columns as one insert per row would', (count, width) => {
    const one = table(width);
    const many = table(width);
    const rows = values(count, width);
    const single = one.prepare(`INSERT OR IGNORE INTO t VALUES (${Array(width).fill('?').join(', ')})`);
    for (let i = 0; i < rows.length; i += width) single.run(rows.slice(i, i + width));
    insertRows(many, 'INSERT OR IGNORE INTO t VALUES', width, rows);
    const dump = (db: Database.Database) => db.prepare('SELECT rowid, * FROM t ORDER BY rowid').raw().all();
    expect(dump(many)).toEqual(dump(one));
    if (count > 0) expect(dump(many).length).toBeGreaterThan(0);
  });
});
