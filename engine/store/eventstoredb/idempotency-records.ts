/**
 * Listing every idempotency record of the log (the port's `idempotencyRecords`).
 *
 * The log is the truth (idempotency-index.ts): keyed appends carry their record on their
 * first event, key-only appends exist only as an index stream. One scan of `$all`,
 * filtered on the server to those streams, finds both; the first record of a key is the
 * one every lookup answers with. The records are sorted by key in UTF-8 byte order, the order SQLite lists them in, so an export is the
 * same file whichever store it came from; that sort holds every record in memory once.
 */
import type { EventStoreDBClient } from '@eventstore/db-client';
import type { IdempotencyRecord } from '../port.js';
import { idempotencyOf } from './event-data.js';
import { entryOf, recordOf } from './idempotency-index.js';
import { scanFiltered } from './filtered-reads.js';
import { isIdempotencyStream, portStreamOf, type Names } from './names.js';

export async function* idempotencyRecordsIn(client: EventStoreDBClient, names: Names, signal?: AbortSignal): AsyncGenerator<IdempotencyRecord> {
  const records = new Map<string, IdempotencyRecord>();
  // Filtered on the server to this log's event and index streams.
  const read = { prefixes: [names.eventPrefix, names.idempotencyPrefix], wanted: (s: string) => portStreamOf(names, s) !== undefined || isIdempotencyStream(names, s) };
  for await (const { event } of scanFiltered(client, read, 0, signal)) {
    let record: IdempotencyRecord | undefined;
    if (portStreamOf(names, event.streamId) !== undefined) record = idempotencyOf(event);
    else if (isIdempotencyStream(names, event.streamId)) {
      const entry = entryOf(event.data);
      record = entry && recordOf(entry);
    }
    if (record && !records.has(record.key)) records.set(record.key, record);
  }
  yield* sortedByUtf8(records.values());
}

/** Records in UTF-8 byte order of their keys (JavaScript's `<` compares UTF-16 units). */
export function sortedByUtf8(records: Iterable<IdempotencyRecord>): IdempotencyRecord[] {
  const byKey = [...records].map((r) => ({ bytes: Buffer.from(r.key), r }));
  byKey.sort((a, b) => Buffer.compare(a.bytes, b.bytes));
  return byKey.map(({ r }) => r);
}
