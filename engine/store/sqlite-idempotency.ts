/**
 * Listing the embedded store's idempotency records (the port's `idempotencyRecords`), a
 * page at a time in key order, so a tool can walk millions of keys without holding them.
 * Kept apart from sqlite.ts, which is about appending and reading events.
 */
import type Database from 'better-sqlite3';
import type { IdempotencyRecord } from './port.js';

const PAGE = 1000;

export async function* idempotencyRecordsOf(db: Database.Database): AsyncGenerator<IdempotencyRecord> {
  // Keyset paging: each page is a short read, and keys added meanwhile after the cursor show up.
  const page = db.prepare('SELECT key, fingerprint, result FROM idempotency WHERE @after IS NULL OR key > @after ORDER BY key LIMIT @limit');
  for (let after: string | null = null; ; ) {
    const rows = page.all({ after, limit: PAGE }) as Array<{ key: string; fingerprint: string; result: string }>;
    for (const row of rows) yield { key: row.key, fingerprint: row.fingerprint, result: JSON.parse(row.result) };
    if (rows.length < PAGE) return;
    after = rows[rows.length - 1]!.key;
  }
}
