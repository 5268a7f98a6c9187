/**
 * Merging what the partitions of a log return, without changing any partition's order: a
 * k-way merge that always takes the head of some input, so each input's items come out
 * in their own order whatever the key (the key only decides the interleaving).
 */
import type { IdempotencyRecord } from '../port.js';

/** At most `limit` items of `inputs`, each input's in its order, interleaved by smallest `key` of the heads. */
export function mergeByKey<T>(inputs: T[][], key: (item: T) => number, limit: number): T[] {
  const next = inputs.map(() => 0);
  const out: T[] = [];
  while (out.length < limit) {
    let best = -1;
    for (let i = 0; i < inputs.length; i++) {
      const head = inputs[i]![next[i]!];
      if (head === undefined) continue;
      if (best < 0 || key(head) < key(inputs[best]![next[best]!]!)) best = i;
    }
    if (best < 0) break;
    out.push(inputs[best]![next[best]!++]!);
  }
  return out;
}

const byteOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/** Idempotency records of every partition in UTF-8 byte order of the keys, each key once. */
export async function* mergeKeyOrdered(inputs: AsyncIterable<IdempotencyRecord>[]): AsyncIterable<IdempotencyRecord> {
  const iterators = inputs.map((i) => i[Symbol.asyncIterator]());
  try {
    const heads = await Promise.all(iterators.map((it) => it.next()));
    let last: string | undefined;
    for (;;) {
      let best = -1;
      for (let i = 0; i < heads.length; i++) {
        if (heads[i]!.done) continue;
        if (best < 0 || byteOrder(heads[i]!.value.key, heads[best]!.value.key) < 0) best = i;
      }
      if (best < 0) return;
      const record = heads[best]!.value as IdempotencyRecord;
      if (record.key !== last) yield record;
      last = record.key;
      heads[best] = await iterators[best]!.next();
    }
  } finally {
    // A reader that stops early releases every partition's scan.
    await Promise.all(iterators.map((it) => it.return?.()));
  }
}
