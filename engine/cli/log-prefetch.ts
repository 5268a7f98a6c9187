/**
 * The embedded log for `parley rebuild`, read ahead on a worker thread: the SQLite scan
 * (most of what reading the log costs) runs beside the read models being written on the
 * main thread, which only parses each page's JSON (one string per page) and upcasts it. The runner reads the log
 * front to back in pages of one size; a read that is not the next such page (a failed read
 * model looking through the log on its own) goes to the store directly, as before.
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { upcast } from '../domain/index.js';
import type { EventStore, StoredEvent } from '../store/index.js';

type Row = [position: number, stream: string, seq: number, id: string, type: string, data: unknown, metadata: StoredEvent['metadata']];
/** A page as the thread sends it: one JSON text of rows (see log-prefetch-worker.js), or why it could not. */
type Page = { rows: string } | { error: string };

/** Pages the thread may hold ready beyond the one being applied (~2 MB each at 5000 events). */
const AHEAD = 2;

export interface PrefetchedLog {
  readAll(afterPosition: number, limit: number): Promise<StoredEvent[]>;
  /** This reader reads no more pages ahead: the thread stops waiting for it (others sharing the pages go on). */
  release(): void;
  close(): Promise<void>;
}

export interface SharingLog extends PrefetchedLog {
  /**
   * A port another thread reads the same pages through (`sharedLog`), from the same
   * position: the log is scanned once for both. Only before the first read; the thread
   * then runs ahead only as far as every reader still reading allows.
   */
  share(): SharedPages;
}

/** A port for `sharedLog`, and a way to stop waiting for its reader should its thread end without saying so. */
export interface SharedPages {
  port: MessagePort;
  release(): void;
}

/** Where a reader's pages come from: the thread itself, or a port to it. */
interface PageSource {
  post(message: { from?: number; credit?: number; drop?: true; reader?: number }): void;
  close(): Promise<void>;
}

/**
 * `file`: the embedded store's events.sqlite; `direct`: the same log through the port,
 * upcast (for reads out of sequence). Pages are of `pageSize` events.
 */
export function prefetchedLog(file: string, direct: Pick<EventStore, 'readAll'>, pageSize: number): SharingLog {
  const ports: MessagePort[] = [];
  let thread: Worker | undefined;
  const released = new Set<number>();
  const reader = pageReader(direct, pageSize, (deliver, fail) => {
    // Plain JavaScript beside this file, so it starts the same from dist/ and from source.
    const worker = new Worker(new URL('./log-prefetch-worker.js', import.meta.url), { workerData: { file, pageSize, ports }, transferList: ports });
    thread = worker;
    for (const i of released) worker.postMessage({ drop: true, reader: i });
    worker.on('message', deliver);
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the log read-ahead thread exited (${code})`)));
    return {
      post: (m) => worker.postMessage(m),
      async close() {
        worker.removeAllListeners('exit');
        await worker.terminate();
      },
    };
  });
  return {
    ...reader,
    share() {
      const { port1, port2 } = new MessageChannel();
      ports.push(port1);
      // Reader 0 is this thread; the shared ones follow in order.
      const i = ports.length;
      return {
        port: port2,
        release() {
          released.add(i);
          thread?.postMessage({ drop: true, reader: i });
        },
      };
    },
  };
}

/** The pages of another thread's `prefetchedLog`, through the port its `share` gave. */
export function sharedLog(port: MessagePort, direct: Pick<EventStore, 'readAll'>, pageSize: number): PrefetchedLog {
  const reader = pageReader(direct, pageSize, (deliver, fail) => {
    port.on('message', deliver);
    port.on('close', () => fail(new Error('the log read-ahead thread ended')));
    return {
      post: (m) => port.postMessage(m),
      async close() {
        port.removeAllListeners('close');
      },
    };
  });
  return {
    ...reader,
    async close() {
      await reader.close();
      // Also when never read: the thread stops waiting for this reader (said in a message:
      // the port's closing alone did not always reach the thread).
      port.postMessage({ drop: true });
      port.close();
    },
  };
}

/** A reader of pages from `open`'s source (opened at the first read in sequence), with reads out of sequence from `direct`. */
function pageReader(
  direct: Pick<EventStore, 'readAll'>,
  pageSize: number,
  open: (deliver: (page: Page) => void, fail: (err: Error) => void) => PageSource,
): PrefetchedLog {
  let source: PageSource | undefined;
  let next = -1;
  // The thread found the end of the log: a later read (a head that moved) goes to the store.
  let ended = false;
  let released = false;
  const ready: Page[] = [];
  let waiting: { resolve(page: Page): void; reject(err: Error): void } | undefined;
  let failure: Error | undefined;

  const fail = (err: Error) => {
    failure ??= err;
    waiting?.reject(failure);
    waiting = undefined;
  };
  const deliver = (page: Page) => {
    if (waiting) {
      waiting.resolve(page);
      waiting = undefined;
    } else ready.push(page);
  };
  const take = (): Promise<Page> => {
    const page = ready.shift();
    if (page) return Promise.resolve(page);
    if (failure) return Promise.reject(failure);
    return new Promise((resolve, reject) => (waiting = { resolve, reject }));
  };

  return {
    async readAll(afterPosition, limit) {
      if (ended || released || limit !== pageSize || (source && afterPosition !== next)) return direct.readAll(afterPosition, limit);
      if (!source) {
        source = open(deliver, fail);
        source.post({ from: afterPosition, credit: AHEAD + 1 });
      }
      const page = await take();
      if ('error' in page) throw new Error(`reading the log ahead failed: ${page.error}`);
      source.post({ credit: 1 });
      const events = (JSON.parse(page.rows) as Row[]).map(toEvent);
      if (events.length > 0) next = events[events.length - 1]!.position;
      else ended = true;
      return events;
    },
    release() {
      if (released) return;
      released = true;
      source?.post({ drop: true });
    },
    async close() {
      const s = source;
      source = undefined;
      released = true;
      await s?.close();
    },
  };
}

function toEvent([position, stream, seq, id, type, data, metadata]: Row): StoredEvent {
  return upcast({ stream, seq, position, id, type, data, metadata });
}
