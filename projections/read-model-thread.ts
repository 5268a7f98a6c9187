/**
 * The read-model thread as the main thread sees it: it starts the worker
 * (read-model-worker.ts), forwards the live feed to it as JSON text (gathered under load,
 * see `liveIntervalMs`), serves the pages of the log it asks for while catching up, and
 * mirrors what it reports (checkpoints, failures, skips), so readers here wait for the
 * position they need (`waitFor`, `waitForCursor`) exactly as they would with an
 * in-process runner (readiness.ts). Places in the log go as cursor tokens, so this works
 * the same on a log split into partitions (read-model-messages.ts).
 *
 * A thread that dies is reported (`onError` for each of its read models), readers that
 * need a position it had not reached get `unavailable` (never a hang), and it is started
 * again after a pause that grows with deaths in a row (100 ms .. 10 s). The new thread
 * catches up from the checkpoints in the file: each committed in the same transaction as
 * its read model, so nothing is applied twice or lost.
 */
import type { Worker } from 'node:worker_threads';
import { LogCursor, partitionsOf } from '../engine/store/index.js';
import { ParleyError } from '../protocol/index.js';
import { LiveChannel } from './live-channel.js';
import { LiveForwarding } from './live-forwarding.js';
import { LogPages } from './log-pages.js';
import type { Projection } from './projection.js';
import { fromWire, type FromThread, type ModelState, type ThreadSettings } from './read-model-messages.js';
import { ReadinessMirror } from './readiness-mirror.js';
import type { ProjectionFailure, ProjectionFeed, ProjectionStatus } from './runner.js';
import { outageAfterDeath, outageFailure, type Outage } from './thread-outage.js';
import type { ThreadOptions } from './thread-options.js';
import { startWorker } from './thread-worker.js';

export type { ThreadOptions } from './thread-options.js';

const STOP_BOUND_MS = 10_000;

export class ReadModelThread {
  private worker: Worker | null = null;
  private readonly versions = new Map<string, number>();
  private readonly rebuilds = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
  private nextRebuild = 1;
  private unsubscribe: (() => void) | null = null;
  private stopping = false;
  private outage: Outage | null = null;
  private restartTimer: ReturnType<typeof setTimeout> | null = null;
  private startedAt = 0;
  /** Deaths in a row so far (the backoff grows with them; a thread that ran STABLE_MS starts over). */
  private lastAttempts = 0;
  private readonly settings: ThreadSettings;
  private readonly channel: LiveChannel;
  /** How many partitions the log has. */
  private readonly partitions: number;
  private readonly mirror: ReadinessMirror;
  private readonly live: LiveForwarding;
  private readonly pages: LogPages;

  constructor(
    private readonly feed: ProjectionFeed,
    private readonly file: string,
    projections: Projection[],
    private readonly options: ThreadOptions = {},
  ) {
    for (const p of projections) {
      if (!p.source) throw new Error(`projection ${p.name} has no source a thread could load it from`);
      this.versions.set(p.name, p.version);
    }
    this.partitions = partitionsOf(feed);
    this.channel = new LiveChannel(this.partitions, options.maxInFlightEvents ?? 20_000);
    this.mirror = new ReadinessMirror(this.partitions);
    this.live = new LiveForwarding(
      this.channel,
      options,
      () => (this.outage ? null : this.worker),
      () => this.mirror.waiters.size > 0,
    );
    this.pages = new LogPages(feed, this.partitions, this.channel, () => this.worker);
    this.settings = {
      file,
      partitions: this.partitions,
      sources: projections.map((p) => p.source!),
      batchSize: options.batchSize,
      retry: options.retry,
      checkpointBytes: options.checkpointBytes ?? 4 * 1024 * 1024,
      nice: Math.max(0, Math.min(19, options.nice ?? 10)),
    };
  }

  get projectionNames(): string[] {
    return [...this.versions.keys()];
  }

  has(name: string): boolean {
    return this.versions.has(name);
  }

  versionOf(name: string): number | undefined {
    return this.versions.get(name);
  }

  /** The checkpoint's one position, on an unpartitioned log (else `cursorOf`). */
  checkpointOf(name: string): number {
    return this.cursorOf(name).single;
  }

  /** Where a read model of the thread is in the log, per partition, as it last reported. */
  cursorOf(name: string): LogCursor {
    return this.mirror.cursorOf(name);
  }

  /** Live events sent to the thread that it has not taken yet (bounded by `maxInFlightEvents` plus one batch). */
  get inFlightEvents(): number {
    return this.channel.inFlight;
  }

  /** The worker's thread id while one runs (for logs and tests). */
  get threadId(): number | null {
    return this.worker?.threadId ?? null;
  }

  /** Ends the running thread as a crash would (for tests and operators): it is restarted. */
  async kill(): Promise<void> {
    await this.worker?.terminate();
  }

  statusOf(name: string): ProjectionStatus | undefined {
    if (!this.versions.has(name)) return undefined;
    const status = this.mirror.statusOf(name);
    if (!this.outage) return status;
    return { ...status, state: 'failed', failure: this.outageFailure(name) };
  }

  /** The lowest checkpoint of the thread's read models, on an unpartitioned log (else `cursor`). */
  get position(): number {
    return this.cursor.single;
  }

  /** Per partition, the lowest checkpoint of the thread's read models. */
  get cursor(): LogCursor {
    return LogCursor.lowest([...this.versions.keys()].map((name) => this.cursorOf(name)), this.partitions);
  }

  async start(): Promise<void> {
    this.stopping = false;
    this.unsubscribe = this.feed.subscribe((events) => this.live.forward(events));
    try {
      await this.spawn();
    } catch (err) {
      this.unsubscribe();
      this.unsubscribe = null;
      throw err;
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.live.send();
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    const worker = this.worker;
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage({ stop: true });
    const bound = setTimeout(() => void worker.terminate().catch(() => undefined), STOP_BOUND_MS);
    await exited;
    clearTimeout(bound);
  }

  /** See ProjectionRunner.waitFor; while the thread is down, positions it had not reached are `unavailable`. */
  waitFor(position: number, timeoutMs = 5000): Promise<void> {
    if (this.outage) {
      return this.cursor.covers(position)
        ? Promise.resolve()
        : Promise.reject(new ParleyError('unavailable', `read models are restarting (${this.outage.error}); try again`));
    }
    return this.mirror.waitFor(position, timeoutMs, () => {
      // A reader waits: what is gathered goes now, not when the interval is up.
      if (this.live.pending) this.live.send();
    });
  }

  /** Resolves once the thread's read models include everything `cursor` covers: its newest position in each partition. */
  waitForCursor(cursor: LogCursor, timeoutMs = 5000): Promise<void> {
    return Promise.all(cursor.entries.filter((p) => p > 0).map((p) => this.waitFor(p, timeoutMs))).then(() => undefined);
  }

  /** Tells the thread about a skip the caller recorded in the file: it retries that read model now. */
  skipped(name: string, position: number, reason: string): void {
    this.worker?.postMessage({ skip: name, position, reason });
  }

  rebuild(names: string[]): Promise<void> {
    const worker = this.worker;
    if (!worker || this.outage) return Promise.reject(new ParleyError('unavailable', 'read models are restarting; try again'));
    const id = this.nextRebuild++;
    return new Promise((resolve, reject) => {
      this.rebuilds.set(id, { resolve, reject });
      worker.postMessage({ rebuild: id, names });
    });
  }

  private spawn(): Promise<void> {
    const { worker, started } = startWorker(this.settings, {
      isCurrent: (w) => w === this.worker,
      started: () => this.up(),
      heard: (w, message) => this.heard(w, message),
      lost: (w, err) => this.lost(w, err),
    });
    this.worker = worker;
    this.live.drop();
    this.channel.reset();
    return started;
  }

  private heard(worker: Worker, message: FromThread): void {
    try {
      if ('read' in message) this.pages.serveRead(worker, message.read, message.after, message.limit);
      else if ('pull' in message) this.pages.servePull(worker, message.pull, message.after, message.limit);
      else if ('progress' in message) {
        this.channel.received(message.received);
        this.progressed(message.progress, message.applied);
      }
      else if ('failed' in message) this.options.onError?.(message.failed, fromWire(message.error), message.failure!);
      else if ('recovered' in message) this.options.onRecovered?.(message.recovered);
      else if ('rebuilt' in message) {
        const pending = this.rebuilds.get(message.rebuilt);
        this.rebuilds.delete(message.rebuilt);
        if (message.error) pending?.reject(fromWire(message.error));
        else pending?.resolve();
      }
    } catch (err) {
      console.error('read-model thread: a report could not be handled', err);
    }
  }

  private progressed(states: ModelState[], applied: Array<[string, number, number]>): void {
    this.mirror.record(states);
    for (const [name, position, events] of applied) this.options.onApplied?.(name, position, events);
    this.mirror.settle();
  }

  private up(): void {
    this.startedAt = Date.now();
    const outage = this.outage;
    this.outage = null;
    if (!outage) return;
    for (const name of this.versions.keys()) {
      if (this.mirror.failed(name)) continue;
      try {
        this.options.onRecovered?.(name);
      } catch (err) {
        console.error('read-model thread: onRecovered failed', err);
      }
    }
  }

  /** The thread ended without being asked to: report, fail the readers it would keep waiting, start another. */
  private lost(worker: Worker, err: Error): void {
    if (worker !== this.worker) return;
    this.worker = null;
    this.live.drop();
    if (this.stopping) return;
    const { outage, delay } = outageAfterDeath(this.outage, this.lastAttempts, this.startedAt, Date.now(), err.message);
    this.lastAttempts = outage.attempts;
    this.outage = outage;
    const unavailable = () => new ParleyError('unavailable', `read models are restarting (${err.message}); try again`);
    this.mirror.waiters.failAll(unavailable);
    for (const pending of this.rebuilds.values()) pending.reject(unavailable());
    this.rebuilds.clear();
    for (const name of this.versions.keys()) {
      try {
        this.options.onError?.(name, err, this.outageFailure(name)!);
      } catch (e) {
        console.error('read-model thread: onError failed', e);
      }
    }
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.stopping) return;
      if (this.outage) this.outage.nextRetryAt = null;
      // A thread that fails to start ends up in `lost` again, with a longer pause.
      this.spawn().catch(() => undefined);
    }, delay);
    this.restartTimer.unref?.();
  }

  private outageFailure(name: string): ProjectionFailure | null {
    return this.outage && outageFailure(this.outage, this.cursorOf(name).next);
  }
}
