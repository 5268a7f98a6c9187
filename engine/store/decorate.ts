import { partitionedLogOf, type PartitionedLog } from './log-cursor.js';
import type { EventStore } from './port.js';

/**
 * A store that behaves like `store` except for the methods given; a partitioned log stays
 * one. A decorator that changes `readAll` of a partitioned log must change `readAllAfter`
 * too (the same events by cursor), else it is refused here rather than bypassed there.
 */
export function decorate(store: EventStore, overrides: Partial<Omit<EventStore, 'kind'>>, partitionedOverrides: Partial<Omit<PartitionedLog, 'partitions'>> = {}): EventStore {
  const partitioned = partitionedLogOf(store);
  if (partitioned && overrides.readAll && !partitionedOverrides.readAllAfter) {
    throw new TypeError('a decorator that changes readAll of a partitioned log must change readAllAfter too');
  }
  const partitionSide: Partial<PartitionedLog> = partitioned
    ? {
        partitions: partitioned.partitions,
        readAllAfter: (after, limit) => partitioned.readAllAfter(after, limit),
        headCursor: () => partitioned.headCursor(),
        ...partitionedOverrides,
      }
    : {};
  return {
    ...partitionSide,
    get kind() {
      return store.kind;
    },
    append: (stream, events, options) => store.append(stream, events, options),
    readStream: (stream, options) => store.readStream(stream, options),
    readAll: (after, limit) => store.readAll(after, limit),
    streamVersion: (stream) => store.streamVersion(stream),
    headPosition: () => store.headPosition(),
    findIdempotency: (key) => store.findIdempotency(key),
    idempotencyRecords: () => store.idempotencyRecords(),
    subscribe: (listener) => store.subscribe(listener),
    close: () => store.close(),
    ...overrides,
  };
}
