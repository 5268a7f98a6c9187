/**
 * The pages of the log the read-model thread asks for (read-model-messages.ts): while it
 * catches up (`read`), and when it fell behind the live feed (`pull`). Places in the log
 * come as cursor tokens, so this works the same on a log split into partitions.
 */
import type { Worker } from 'node:worker_threads';
import { LogCursor, readAllAfter, type StoredEvent } from '../engine/store/index.js';
import type { LiveChannel } from './live-channel.js';
import { toWire } from './read-model-messages.js';
import type { ProjectionFeed } from './runner-options.js';

export class LogPages {
  /** `current`: the thread running now; a page for one that was replaced is not sent. */
  constructor(
    private readonly feed: ProjectionFeed,
    private readonly partitions: number,
    private readonly channel: LiveChannel,
    private readonly current: () => Worker | null,
  ) {}

  serveRead(worker: Worker, id: number, after: string, limit: number): void {
    this.readPage(after, limit).then(
      (events) => worker.postMessage({ page: id, events: JSON.stringify(events) }),
      (err: unknown) => worker.postMessage({ page: id, error: toWire(err) }),
    ).catch(() => {
      // The thread is gone: its successor asks again.
    });
  }

  /**
   * A page of the log for a thread that fell behind. When it reaches the head — everything
   * the live feed delivered here is in it — live batches resume with the next one, decided
   * in the same turn as the check, so none falls between. (An event both in the page and
   * in a later live batch is applied once: the runner passes over positions it has.)
   */
  servePull(worker: Worker, id: number, after: string, limit: number): void {
    this.readPage(after, limit).then(
      (events) => {
        if (worker !== this.current()) return;
        const resumed = this.channel.pulled(LogCursor.decode(after, this.partitions), events, limit);
        worker.postMessage({ page: id, events: JSON.stringify(events), resumed });
      },
      (err: unknown) => worker.postMessage({ page: id, error: toWire(err) }),
    ).catch(() => {
      // The thread is gone: its successor starts from its checkpoints.
    });
  }

  /** A page of the log after a cursor token the thread sent (a token it cannot have sent is a coded refusal). */
  private readPage(after: string, limit: number): Promise<StoredEvent[]> {
    try {
      return readAllAfter(this.feed, LogCursor.decode(after, this.partitions), limit);
    } catch (err) {
      return Promise.reject(err);
    }
  }
}
