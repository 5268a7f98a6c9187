/**
 * The node's read models behind one runner API. Projections that say where a thread can
 * load them (`source`: the built-in ones, the Yjs documents) are applied on the
 * read-model thread (read-model-thread.ts), off the event loop; projections given as
 * objects (an app's own, external lanes) keep running in process beside it. `waitFor`
 * covers both, so a reader still sees its own writes.
 *
 * The main thread's connection to the file is for reads (and the rare operator write, a
 * skip); it never checkpoints the WAL: the thread does that between its batches.
 */
import type Database from 'better-sqlite3';
import { LogCursor, partitionsOf } from '../engine/store/index.js';
import type { ExternalProjection } from './external.js';
import { isExternal } from './external.js';
import type { Projection } from './projection.js';
import { ReadModelThread, type ThreadOptions } from './read-model-thread.js';
import { ProjectionRunner, type ProjectionFeed, type ProjectionStatus, type RunnerOptions } from './runner.js';
import { recordSkip, type ProjectionSkip } from './skips.js';

/** What the node and its routes use of its read models, whoever applies them. */
export interface ReadModelRunner {
  /** The main thread's connection to the read-model file, for queries. */
  readonly db: Database.Database;
  readonly projectionNames: string[];
  versionOf(name: string): number | undefined;
  /** A checkpoint's one position, on an unpartitioned log (else `cursorOf`). */
  checkpointOf(name: string): number;
  /** Where a read model is in the log, per partition. */
  cursorOf(name: string): LogCursor;
  statusOf(name: string): ProjectionStatus | undefined;
  /** The lowest checkpoint of the node's own (SQLite) read models, on an unpartitioned log (else `cursor`). */
  readonly position: number;
  /** Per partition, the lowest checkpoint of the node's own read models. */
  readonly cursor: LogCursor;
  /** Resolves once the read models include the event at `position` (see ProjectionRunner.waitFor). */
  waitFor(position: number, timeoutMs?: number): Promise<void>;
  /** Resolves once the read models include everything `cursor` covers, in every partition. */
  waitForCursor(cursor: LogCursor, timeoutMs?: number): Promise<void>;
  skip(name: string, position: number, reason?: string): ProjectionSkip;
  rebuild(names?: string[]): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface ReadModelsOptions extends RunnerOptions, Pick<ThreadOptions, 'checkpointBytes' | 'nice' | 'maxInFlightEvents' | 'liveIntervalMs'> {
  /** Apply projections that have a `source` on a worker thread (default true). */
  thread?: boolean;
}

export class ReadModels implements ReadModelRunner {
  readonly db: Database.Database;
  /** Null when every projection runs in process (`thread: false`). */
  readonly thread: ReadModelThread | null;
  private readonly local: ProjectionRunner;
  private readonly partitions: number;

  constructor(store: ProjectionFeed, file: string, projections: Array<Projection | ExternalProjection>, options: ReadModelsOptions = {}) {
    const { thread = true, checkpointBytes, nice, maxInFlightEvents, liveIntervalMs, onProgress: _ignored, ...runnerOptions } = options;
    this.partitions = partitionsOf(store);
    const threaded = thread ? projections.filter((p): p is Projection => !isExternal(p) && p.source !== undefined) : [];
    const inProcess = projections.filter((p) => !threaded.includes(p as Projection));
    this.db = ProjectionRunner.openDatabase(file);
    try {
      if (threaded.length > 0) {
        // The thread writes too: wait for its lock rather than fail, and leave checkpoints to it.
        this.db.pragma('busy_timeout = 5000');
        this.db.pragma('wal_autocheckpoint = 0');
      }
      this.local = new ProjectionRunner(store, this.db, inProcess, runnerOptions);
      for (const p of threaded) if (this.local.projectionNames.includes(p.name)) throw new Error(`two projections are named ${p.name}`);
      this.thread = threaded.length > 0 ? new ReadModelThread(store, file, threaded, { ...runnerOptions, checkpointBytes, nice, maxInFlightEvents, liveIntervalMs }) : null;
    } catch (err) {
      this.db.close();
      throw err;
    }
  }

  get projectionNames(): string[] {
    return [...(this.thread?.projectionNames ?? []), ...this.local.projectionNames];
  }

  versionOf(name: string): number | undefined {
    return this.thread?.has(name) ? this.thread.versionOf(name) : this.local.versionOf(name);
  }

  checkpointOf(name: string): number {
    return this.thread?.has(name) ? this.thread.checkpointOf(name) : this.local.checkpointOf(name);
  }

  cursorOf(name: string): LogCursor {
    return this.thread?.has(name) ? this.thread.cursorOf(name) : this.local.cursorOf(name);
  }

  get cursor(): LogCursor {
    if (!this.thread) return this.local.cursor;
    const own = this.local.ownReadModels > 0 ? [this.thread.cursor, this.local.cursor] : [this.thread.cursor];
    return LogCursor.lowest(own, this.partitions);
  }

  statusOf(name: string): ProjectionStatus | undefined {
    return this.thread?.has(name) ? this.thread.statusOf(name) : this.local.statusOf(name);
  }

  get position(): number {
    return this.cursor.single;
  }

  waitFor(position: number, timeoutMs = 5000): Promise<void> {
    if (!this.thread) return this.local.waitFor(position, timeoutMs);
    if (this.local.ownReadModels === 0) return this.thread.waitFor(position, timeoutMs);
    return Promise.all([this.thread.waitFor(position, timeoutMs), this.local.waitFor(position, timeoutMs)]).then(() => undefined);
  }

  waitForCursor(cursor: LogCursor, timeoutMs = 5000): Promise<void> {
    // Each entry is the newest position of its partition: waiting for each waits for all before it there.
    return Promise.all(cursor.entries.filter((p) => p > 0).map((p) => this.waitFor(p, timeoutMs))).then(() => undefined);
  }

  skip(name: string, position: number, reason = ''): ProjectionSkip {
    if (!this.thread?.has(name)) return this.local.skip(name, position, reason);
    const skip = recordSkip(this.db, name, position, reason);
    this.thread.skipped(name, position, reason);
    return skip;
  }

  async rebuild(names: string[] = this.projectionNames): Promise<void> {
    const unknown = names.filter((n) => !this.projectionNames.includes(n));
    if (unknown.length > 0) throw new Error(`unknown projection ${unknown.join(', ')}; known: ${this.projectionNames.join(', ')}`);
    const inThread = names.filter((n) => this.thread?.has(n));
    const inProcess = names.filter((n) => !this.thread?.has(n));
    await Promise.all([
      inThread.length > 0 ? this.thread!.rebuild(inThread) : undefined,
      inProcess.length > 0 ? this.local.rebuild(inProcess) : undefined,
    ]);
  }

  async start(): Promise<void> {
    await this.thread?.start();
    await this.local.start();
  }

  async stop(): Promise<void> {
    await Promise.all([this.thread?.stop(), this.local.stop()]);
  }

  /** Closes the main thread's connection (after `stop`). */
  close(): void {
    this.db.close();
  }
}
