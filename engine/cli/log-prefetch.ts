/**
 * The embedded log for `parley rebuild`, read ahead on a worker thread: the SQLite scan
 * (most of what reading the log costs) runs beside the read models being written on the
 * main thread, which only parses each page's JSON (one string per page) and upcasts it. The runner reads the log
 * front to back in pages of one size; a read that is not the next such page (a failed read
 * model looking through the log on its own) goes to the store directly, as before.
 */
import { Worker } from 'node:worker_threads';
import { upcast } from '../domain/index.js';
import type { EventStore, StoredEvent } from '../store/index.js';

type Row = [position: number, stream: string, seq: number, id: string, type: string, data: unknown, metadata: StoredEvent['metadata']];
/** A page as the thread sends it: one JSON text of rows (see log-prefetch-worker.js), or why it could not. */
type Page = { rows: string } | { error: string };

/** Pages the thread may hold ready beyond the one being applied (~2 MB each at 5000 events). */
const AHEAD = 2;

export interface PrefetchedLog {
  readAll(afterPosition: number, limit: number): Promise<StoredEvent[]>;
  close(): Promise<void>;
}

/**
 * `file`: the embedded store's events.sqlite; `direct`: the same log through the port,
 * upcast (for reads out of sequence). Pages are of `pageSize` events.
 */
export function prefetchedLog(file: string, direct: Pick<EventStore, 'readAll'>, pageSize: number): PrefetchedLog {
  let worker: Worker | undefined;
  let next = -1;
  // The thread found the end of the log: a later read (a head that moved) goes to the store.
  let ended = false;
  const ready: Page[] = [];
  let waiting: { resolve(page: Page): void; reject(err: Error): void } | undefined;
  let failure: Error | undefined;

  const fail = (err: Error) => {
    failure ??= err;
    waiting?.reject(failure);
    waiting = undefined;
  };
  const start = (from: number) => {
    // Plain JavaScript beside this file, so it starts the same from dist/ and from source.
    worker = new Worker(new URL('./log-prefetch-worker.js', import.meta.url), { workerData: { file, pageSize } });
    worker.on('message', (page: Page) => {
      if (waiting) {
        waiting.resolve(page);
        waiting = undefined;
      } else ready.push(page);
    });
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the log read-ahead thread exited (${code})`)));
    worker.postMessage({ from, credit: AHEAD + 1 });
  };
  const take = (): Promise<Page> => {
    const page = ready.shift();
    if (page) return Promise.resolve(page);
    if (failure) return Promise.reject(failure);
    return new Promise((resolve, reject) => (waiting = { resolve, reject }));
  };

  return {
    async readAll(afterPosition, limit) {
      if (ended || limit !== pageSize || (worker && afterPosition !== next)) return direct.readAll(afterPosition, limit);
      if (!worker) start(afterPosition);
      const page = await take();
      if ('error' in page) throw new Error(`reading the log ahead failed: ${page.error}`);
      worker!.postMessage({ credit: 1 });
      const events = (JSON.parse(page.rows) as Row[]).map(toEvent);
      if (events.length > 0) next = events[events.length - 1]!.position;
      else ended = true;
      return events;
    },
    async close() {
      const w = worker;
      worker = undefined;
      if (w) {
        w.removeAllListeners('exit');
        await w.terminate();
      }
    },
  };
}

function toEvent([position, stream, seq, id, type, data, metadata]: Row): StoredEvent {
  return upcast({ stream, seq, position, id, type, data, metadata });
}
