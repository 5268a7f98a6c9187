/**
 * An EventStore seen through the upcasters: every read and the live feed give events in
 * their current shape. Appends pass through untouched. The domain knows the shapes, so
 * it wraps the store (the store knows nothing of the domain).
 */
import { decorate, partitionedLogOf, type EventStore } from '../store/index.js';
import { upcast } from './schema-versions.js';

export function withUpcasting(store: EventStore): EventStore {
  return decorate(store, {
    readStream: async (stream, options) => (await store.readStream(stream, options)).map(upcast),
    readAll: async (after, limit) => (await store.readAll(after, limit)).map(upcast),
    subscribe: (listener) => store.subscribe((events) => listener(events.map(upcast))),
  }, {
    readAllAfter: async (after, limit) => (await partitionedLogOf(store)!.readAllAfter(after, limit)).map(upcast),
  });
}
