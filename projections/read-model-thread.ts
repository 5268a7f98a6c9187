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
import { Worker } from 'node:worker_threads';
import { backoffDelay, LogCursor, partitionsOf, readAllAfter, type StoredEvent } from '../engine/store/index.js';
import { ParleyError } from '../protocol/index.js';
import { cursorOfEntries } from './cursor-entries.js';
import { LiveChannel } from './live-channel.js';
import type { Projection } from './projection.js';
import { closedBefore, readyFor, Waiters } from './readiness.js';
import { fromWire, toWire, type FromThread, type ModelState, type ThreadSettings } from './read-model-messages.js';
import type { ProjectionFailure, ProjectionFeed, ProjectionStatus, RunnerOptions } from './runner.js';

export interface ThreadOptions extends Pick<RunnerOptions, 'batchSize' | 'retry' | 'onApplied' | 'onError' | 'onRecovered'> {
  /** PASSIVE WAL checkpoints run between batches once the WAL is this large (default 4 MiB). */
  checkpointBytes?: number;
  /** Lower the thread's scheduling priority by this much (Linux `nice`, 0..19; default 10). */
  nice?: number;
  /**
   * Live events sent to the thread and not yet taken off the channel; past this it pulls
   * the log instead (read-model-messages.ts), so a stuck thread costs no memory (default 20,000).
   */
  maxInFlightEvents?: number;
  /**
   * Under load, live batches go to the thread at most once per this many milliseconds,
   * gathered into one message (and one read-model transaction); a batch after a quiet
   * spell, a batch while a reader waits, and a gathering of `batchSize` events go at once
   * (default 200; 0 sends every batch).
   */
  liveIntervalMs?: number;
}

/** Pauses before restarting a read-model thread that died, growing while it keeps dying. */
const RESTART = { initialMs: 100, maxMs: 10_000 };
/** A thread that ran this long before dying starts the backoff over. */
const STABLE_MS = 60_000;
const STOP_BOUND_MS = 10_000;
/**
 * See ThreadOptions.liveIntervalMs. Measured (bench/cpu-split.ts, Parley alone at 500
 * posts/s, medians of 3 interleaved runs): the thread's CPU per post fell from ~0.28 ms (a
 * message and a transaction per commit) to ~0.15 ms at 50 ms and ~0.10 ms at 200 ms.
 * Readers do not wait for it: a waiting reader sends what is gathered at once.
 */
const DEFAULT_LIVE_INTERVAL_MS = 200;
/**
 * The thread's code. Compiled (dist/), this module and its sibling read-model-worker.js are
 * JavaScript and the thread loads the worker directly (no tsx). Run from source (tests,
 * development) a worker thread does not inherit the TypeScript loader, so it starts from
 * read-model-thread-entry.js, which registers tsx before loading read-model-worker.ts.
 */
const WORKER_URL = import.meta.url.endsWith('.ts')
  ? new URL('./read-model-thread-entry.js', import.meta.url)
  : new URL('./read-model-worker.js', import.meta.url);

interface Outage {
  error: string;
  since: number;
  attempts: number;
  nextRetryAt: number | null;
}

export class ReadModelThread {
  private worker: Worker | null = null;
  private readonly models = new Map<string, ModelState>();
  private readonly versions = new Map<string, number>();
  private readonly waiters = new Waiters();
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
  /** Live batches gathered for the next message to the thread (see `liveIntervalMs`), oldest first, and their events. */
  private gathered: StoredEvent[][] = [];
  private gatheredEvents = 0;
  private gatherTimer: ReturnType<typeof setTimeout> | null = null;
  private lastSentAt = -Infinity;

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
    const checkpoint = this.models.get(name)?.readiness.checkpoint;
    return checkpoint ? cursorOfEntries(checkpoint, this.partitions) : LogCursor.start(this.partitions);
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
    const status = this.models.get(name)?.status ?? { state: 'running', failure: null, skipped: [] };
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
    this.unsubscribe = this.feed.subscribe((events) => this.forward(events));
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
    this.sendGathered();
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
    const models = this.readiness();
    const closed = closedBefore(models, position);
    if (closed) return Promise.reject(closed);
    if (readyFor(models, position)) return Promise.resolve();
    // A reader waits: what is gathered goes now, not when the interval is up.
    if (this.gathered.length > 0) this.sendGathered();
    return this.waiters.wait(position, timeoutMs);
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

  private readiness() {
    return [...this.models.values()].map((m) => m.readiness);
  }

  /**
   * Live batches go as JSON text; a thread that is down reads them from the log when it is
   * back. Under load they are gathered for up to `liveIntervalMs` and go as one message:
   * each message costs both threads a hand-off and the thread a transaction (pages of every
   * read model, an FTS segment, the checkpoints row) however few events it holds.
   */
  private forward(events: StoredEvent[]): void {
    if (events.length === 0) return;
    this.channel.delivered(events);
    if (!this.worker || this.outage || !this.channel.sending) return;
    this.gathered.push(events);
    this.gatheredEvents += events.length;
    const wait = this.lastSentAt + (this.options.liveIntervalMs ?? DEFAULT_LIVE_INTERVAL_MS) - performance.now();
    // Past the in-flight bound it goes at once too, so the thread is told to pull as soon as before.
    const full = this.gatheredEvents >= (this.options.batchSize ?? 1000) || this.inFlightEvents + this.gatheredEvents > this.channel.maxInFlight;
    if (wait <= 0 || full || this.waiters.size > 0) this.sendGathered();
    else this.gatherTimer ??= setTimeout(() => this.sendGathered(), wait);
  }

  /** Sends what was gathered; one too far behind is told to pull the log from what it was sent (LiveChannel). */
  private sendGathered(): void {
    if (this.gatherTimer) clearTimeout(this.gatherTimer);
    this.gatherTimer = null;
    const batches = this.gathered;
    this.gathered = [];
    this.gatheredEvents = 0;
    const worker = this.worker;
    if (batches.length === 0 || !worker || this.outage || !this.channel.sending) return;
    this.lastSentAt = performance.now();
    const events = batches.length === 1 ? batches[0]! : batches.flat();
    try {
      worker.postMessage({ live: JSON.stringify(events) });
    } catch (err) {
      // Not sent (a thread on its way out): its successor reads these from the log.
      console.error('read-model thread: a live batch could not be sent', err);
      return;
    }
    const behind = this.channel.sentBatch(events);
    if (behind !== null) worker.postMessage({ behind });
  }

  /**
   * A page of the log for a thread that fell behind. When it reaches the head — everything
   * the live feed delivered here is in it — live batches resume with the next one, decided
   * in the same turn as the check, so none falls between. (An event both in the page and
   * in a later live batch is applied once: the runner passes over positions it has.)
   */
  private servePull(worker: Worker, id: number, after: string, limit: number): void {
    this.readPage(after, limit).then(
      (events) => {
        if (worker !== this.worker) return;
        const resumed = this.channel.pulled(LogCursor.decode(after, this.partitions), events, limit);
        worker.postMessage({ page: id, events: JSON.stringify(events), resumed });
      },
      (err: unknown) => worker.postMessage({ page: id, error: toWire(err) }),
    ).catch(() => {
      // The thread is gone: its successor starts from its checkpoints.
    });
  }

  private spawn(): Promise<void> {
    const worker = new Worker(WORKER_URL, { workerData: this.settings });
    this.worker = worker;
    this.dropGathered();
    this.channel.reset();
    let lastError: Error | undefined;
    return new Promise((resolve, reject) => {
      let started = false;
      worker.on('message', (message: FromThread) => {
        if (worker !== this.worker) return;
        if ('started' in message) {
          started = true;
          this.up();
          resolve();
        } else this.heard(worker, message);
      });
      worker.on('error', (err) => (lastError = err));
      worker.on('exit', (code) => {
        const err = lastError ?? new Error(`the read-model thread exited with code ${code}`);
        if (!started) reject(new Error(`cannot start the read-model thread for ${this.file}: ${err.message}`, { cause: err }));
        this.lost(worker, err);
      });
    });
  }

  private heard(worker: Worker, message: FromThread): void {
    try {
      if ('read' in message) this.serveRead(worker, message.read, message.after, message.limit);
      else if ('pull' in message) this.servePull(worker, message.pull, message.after, message.limit);
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

  private serveRead(worker: Worker, id: number, after: string, limit: number): void {
    this.readPage(after, limit).then(
      (events) => worker.postMessage({ page: id, events: JSON.stringify(events) }),
      (err: unknown) => worker.postMessage({ page: id, error: toWire(err) }),
    ).catch(() => {
      // The thread is gone: its successor asks again.
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

  private progressed(states: ModelState[], applied: Array<[string, number, number]>): void {
    for (const state of states) this.models.set(state.readiness.name, state);
    for (const [name, position, events] of applied) this.options.onApplied?.(name, position, events);
    const models = this.readiness();
    this.waiters.settle(
      (position) => readyFor(models, position),
      (position) => closedBefore(models, position),
    );
  }

  private up(): void {
    this.startedAt = Date.now();
    const outage = this.outage;
    this.outage = null;
    if (!outage) return;
    for (const name of this.versions.keys()) {
      if (this.models.get(name)?.status.failure) continue;
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
    this.dropGathered();
    if (this.stopping) return;
    const now = Date.now();
    const attempts = this.outage || now - this.startedAt < STABLE_MS ? (this.outage?.attempts ?? this.lastAttempts) + 1 : 1;
    this.lastAttempts = attempts;
    const delay = backoffDelay(attempts - 1, RESTART);
    this.outage = { error: err.message, since: this.outage?.since ?? now, attempts, nextRetryAt: now + delay };
    const unavailable = () => new ParleyError('unavailable', `read models are restarting (${err.message}); try again`);
    this.waiters.failAll(unavailable);
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

  /** A thread that is gone or new reads what was gathered for it from the log (its checkpoints on). */
  private dropGathered(): void {
    if (this.gatherTimer) clearTimeout(this.gatherTimer);
    this.gatherTimer = null;
    this.gathered = [];
    this.gatheredEvents = 0;
  }

  private outageFailure(name: string): ProjectionFailure | null {
    const o = this.outage;
    if (!o) return null;
    return {
      position: this.cursorOf(name).next,
      eventType: null,
      stream: null,
      error: `the read-model thread stopped: ${o.error}; restarting`,
      code: 'THREAD_EXIT',
      since: o.since,
      attempts: o.attempts,
      nextRetryAt: o.nextRetryAt,
    };
  }
}
