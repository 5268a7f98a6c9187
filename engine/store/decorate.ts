import type { EventStore } from './port.js';

/** A store that behaves like `store` except for the methods given. */
export function decorate(store: EventStore, overrides: Partial<Omit<EventStore, 'kind'>>): EventStore {
  return {
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
