/**
 * An EventStore seen through the upcasters: every read and the live feed give events in
 * their current shape. Appends pass through untouched.
 */
import { upcast } from '../domain/schema-versions.js';
import type { EventStore, FeedListener } from './port.js';

export function withUpcasting(store: EventStore): EventStore {
  return {
    get kind() {
      return store.kind;
    },
    append: (stream, events, options) => store.append(stream, events, options),
    readStream: async (stream, options) => (await store.readStream(stream, options)).map(upcast),
    readAll: async (after, limit) => (await store.readAll(after, limit)).map(upcast),
    streamVersion: (stream) => store.streamVersion(stream),
    headPosition: () => store.headPosition(),
    findIdempotency: (key) => store.findIdempotency(key),
    subscribe: (listener: FeedListener) => store.subscribe((events) => listener(events.map(upcast))),
    close: () => store.close(),
  };
}
