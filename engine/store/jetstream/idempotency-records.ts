/**
 * Listing every idempotency record of a JetStream log (the port's `idempotencyRecords`).
 *
 * The envelopes are the truth (idempotency-index.ts): the KV index may miss a key whose
 * write a crashed node lost until index-repair.ts puts it back, and its entries are named
 * by hashes, so a listing reads the records out of the log itself, in chunks of JetStream
 * sequences. Every keyed envelope counts, as `findIdempotency` would find its key (a
 * key-only append has no events; an envelope skipped as a duplicate seq keeps its key).
 * The records are then sorted by key in UTF-8 byte order, the order SQLite lists them in,
 * so an export is the same file whichever store it came from. That sort holds every
 * record in memory once: about the size of the idempotency table.
 */
import type { IdempotencyRecord } from '../port.js';
import { withRetryBudget } from './availability.js';
import type { JetStreamLog } from './jetstream-log.js';
import { readEnvelopes } from './message-reader.js';

const CHUNK = 10_000;

export async function* idempotencyRecordsIn(log: JetStreamLog, timing: { retryBudgetMs: number; requestTimeoutMs: number }): AsyncGenerator<IdempotencyRecord> {
  const records = new Map<string, IdempotencyRecord>();
  const last = await log.lastSeq();
  for (let from = 1; from <= last; from += CHUNK) {
    const until = Math.min(last, from + CHUNK - 1);
    const got = await withRetryBudget('read all', timing.retryBudgetMs, () =>
      readEnvelopes(log.js, log.streamName, { startSeq: from, untilSeq: until, idleTimeoutMs: timing.requestTimeoutMs }),
    );
    for (const { envelope } of got) {
      const r = envelope.idempotency;
      // The first envelope with a key is the one every lookup answers with.
      if (r && !records.has(r.key)) records.set(r.key, { key: r.key, fingerprint: r.fingerprint, result: r.result });
    }
  }
  const byKey = [...records.values()].map((r) => ({ bytes: Buffer.from(r.key), r }));
  byKey.sort((a, b) => Buffer.compare(a.bytes, b.bytes));
  for (const { r } of byKey) yield r;
}
