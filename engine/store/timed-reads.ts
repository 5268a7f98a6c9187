/** An EventStore whose reads report how long they took (for the store read-latency metric). */
import { decorate } from './decorate.js';
import { partitionedLogOf } from './log-cursor.js';
import type { EventStore } from './port.js';

export function withReadTimings(store: EventStore, observe: (read: 'stream' | 'all', seconds: number) => void): EventStore {
  const timed = async <T>(read: 'stream' | 'all', op: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await op();
    } finally {
      observe(read, (performance.now() - started) / 1000);
    }
  };
  return decorate(store, {
    readStream: (stream, options) => timed('stream', () => store.readStream(stream, options)),
    readAll: (after, limit) => timed('all', () => store.readAll(after, limit)),
  }, {
    readAllAfter: (after, limit) => timed('all', () => partitionedLogOf(store)!.readAllAfter(after, limit)),
  });
}
