/**
 * Appends to one stream go to EventStoreDB one at a time, in the order they were made.
 *
 * Why one at a time: each append is its own gRPC call, and calls on one HTTP/2 channel may
 * reach the server's writer in any order, so appends pipelined at successive versions
 * (5, 6, 7) sent at once could arrive as 6, 5, 7 and fail for no reason. Streams are
 * independent: appends to different streams are in flight together.
 *
 * Take-down (the port's rule): when an append fails or turns out to be a duplicate, every
 * append with a numeric expected version still queued behind it on that stream was decided
 * on top of it and is rejected with a ConcurrencyError; `any` appends go on. Appends made
 * after the failure was known are queued after the take-down and run normally.
 *
 * Bounded: past `maxQueued` appends waiting in the whole store, a new one is refused with
 * StoreUnavailableError instead of growing the node's memory.
 */
import { ConcurrencyError, StoreUnavailableError } from '../errors.js';
import type { ExpectedVersion } from '../port.js';

export interface QueuedAppend<R> {
  expected: ExpectedVersion;
  run: () => Promise<R>;
}

interface Waiting<R> extends QueuedAppend<R> {
  resolve: (r: R) => void;
  reject: (err: unknown) => void;
}

export class AppendQueue<R> {
  private readonly streams = new Map<string, Array<Waiting<R>>>();
  private queued = 0;

  constructor(
    private readonly maxQueued: number,
    /** Whether a successful result still takes down the dependents (a duplicate does). */
    private readonly isDuplicate: (result: R) => boolean,
    /** The stream's version as far as the queue knows after a failure, for the take-down errors. */
    private readonly versionAfterFailure: (stream: string, cause: unknown) => number,
  ) {}

  get size(): number {
    return this.queued;
  }

  enqueue(stream: string, append: QueuedAppend<R>): Promise<R> {
    if (this.queued >= this.maxQueued) {
      return Promise.reject(new StoreUnavailableError(`EventStoreDB: ${this.queued} appends are waiting; refusing more until they drain`));
    }
    return new Promise<R>((resolve, reject) => {
      const waiting = { ...append, resolve, reject };
      const jobs = this.streams.get(stream);
      this.queued++;
      if (jobs) {
        jobs.push(waiting);
        return;
      }
      this.streams.set(stream, [waiting]);
      this.drain(stream);
    });
  }

  /** Rejects everything still waiting (the store is closing). */
  rejectAll(err: Error): void {
    for (const jobs of this.streams.values()) for (const job of jobs.splice(1)) this.settle(job, err);
  }

  private drain(stream: string): void {
    const jobs = this.streams.get(stream);
    const job = jobs?.[0];
    if (!jobs || !job) {
      this.streams.delete(stream);
      return;
    }
    const next = (failed: boolean, cause: unknown) => {
      jobs.shift();
      this.queued--;
      if (failed) this.takeDown(stream, jobs, cause);
      this.drain(stream);
    };
    // run() is the adapter's own code but is treated as hostile: a synchronous throw is a
    // rejection, and nothing here can throw out of a promise callback.
    Promise.resolve()
      .then(job.run)
      .then(
        (result) => {
          job.resolve(result);
          next(this.isDuplicate(result), undefined);
        },
        (err: unknown) => {
          job.reject(err);
          next(true, err);
        },
      );
  }

  private takeDown(stream: string, jobs: Array<Waiting<R>>, cause: unknown): void {
    const dependent = jobs.filter((j) => j.expected !== 'any');
    if (dependent.length === 0) return;
    const actual = this.versionAfterFailure(stream, cause);
    const keep = jobs.filter((j) => j.expected === 'any');
    jobs.length = 0;
    jobs.push(...keep);
    for (const job of dependent) {
      this.queued--;
      job.reject(new ConcurrencyError(stream, job.expected, actual, { cause }));
    }
  }

  private settle(job: Waiting<R>, err: Error): void {
    this.queued--;
    job.reject(err);
  }
}
