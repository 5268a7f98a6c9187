/**
 * An EventStore seen through the upcasters: every read and the live feed give events in
 * their current shape. Appends pass through untouched.
 */
import { upcast } from '../domain/schema-versions.js';
import { decorate } from './decorate.js';
import type { EventStore } from './port.js';

export function withUpcasting(store: EventStore): EventStore {
  return decorate(store, {
    readStream: async (stream, options) => (await store.readStream(stream, options)).map(upcast),
    readAll: async (after, limit) => (await store.readAll(after, limit)).map(upcast),
    subscribe: (listener) => store.subscribe((events) => listener(events.map(upcast))),
  });
}
