/**
 * The projection runner: keeps read models in a SQLite file up to date with the log.
 *
 * - Each projection has a checkpoint (a log cursor: the last position it applied, per
 *   partition of the log) and a version, both in `projection_checkpoints`, updated in the
 *   same transaction as its read model. The cursor is stored as its token: on an
 *   unpartitioned log a plain number, exactly as before cursors existed.
 * - On start it subscribes to the live feed first and buffers, then catches up from the
 *   log, then drains the buffer: no event falls between the two.
 * - A rebuild truncates a projection and replays the log into it; live events for that
 *   projection wait in the buffer meanwhile, so a rebuild never overlaps a live run.
 *
 * A projection that throws (a poison event, SQLITE_FULL, SQLITE_BUSY, a disk I/O error)
 * stops, alone: its checkpoint stays just before the event it failed on, the others go
 * on, and nothing leaves the runner's callbacks (they run from the feed and from
 * `setImmediate`, where a throw would end the process). The failure is reported
 * (`onError`, `statusOf`) and retried with a growing pause, catching up from the log, so
 * a transient error (a full disk that gets space again) heals by itself. A poison event
 * stays until an operator skips it for that projection (skips.ts); the log is never edited.
 *
 * Readers waiting for a position (`waitFor`) do not wait for a stopped projection: they
 * read what it holds (stale, and reported as failed), so one broken read model never
 * holds up reads of the others. The exception is a read model access control reads
 * (`accessRevokedBy`, membership): while it is stopped with an event that takes access
 * away not applied, readers of that position get a coded `unavailable` error (fail
 * closed), so a removed member is never let in by a stale read model. A running one that
 * does not get there within the bound gives `unavailable` too.
 */
import Database from 'better-sqlite3';
import { backoffDelay, LogCursor, partitionsOf, readAllAfter, type EventStore, type StoredEvent } from '../engine/store/index.js';
import { ParleyError } from '../protocol/index.js';
import { ExternalLane, isExternal, type ExternalProjection } from './external.js';
import type { Projection } from './projection.js';
import { prepared } from './prepared.js';
import { Waiters, closedBefore, readyFor, type Readiness } from './readiness.js';
import { storedCursor, storedToken } from './stored-checkpoint.js';
import { recordSkip, setupSkips, skippedPositions, type ProjectionSkip } from './skips.js';
import type { ProjectionFailure, ProjectionStatus } from './status.js';

export interface RunnerOptions {
  /** How many events to read from the log at a time while catching up. */
  batchSize?: number;
  /** Observes each applied batch: projection name, its new checkpoint, events handled. */
  onApplied?: (projection: string, position: number, events: number) => void;
  /**
   * Each failed attempt of a projection (it stops and is retried); default: logged to
   * stderr. `failure` says where it stopped and when it tries again.
   */
  onError?: (projection: string, err: unknown, failure: ProjectionFailure) => void;
  /** A stopped projection applied again (after a retry, a skip or a rebuild). */
  onRecovered?: (projection: string) => void;
  /** Pause before the first retry of a stopped projection, doubled per failure up to `maxMs`. Default 100 ms .. 10 s. */
  retry?: { initialMs?: number; maxMs?: number };
  /** Readiness may have changed (a batch applied, a projection stopped or recovered): for a mirror of it elsewhere. */
  onProgress?: () => void;
}

/** What the runner reads: the log, page by page, and the live feed. */
export type ProjectionFeed = Pick<EventStore, 'readAll' | 'subscribe'>;

export type { ProjectionFailure, ProjectionStatus } from './status.js';

interface Slot {
  projection: Projection;
  handles: Set<string>;
  checkpoint: LogCursor;
  /** While it catches up on its own (a rebuild or a recovery), live batches wait here. */
  held: StoredEvent[][] | null;
  rebuilding: boolean;
  failure: ProjectionFailure | null;
  retry: ReturnType<typeof setTimeout> | null;
  recovering: Promise<void> | null;
  /**
   * While stopped, for a projection with `accessRevokedBy`: the first position after its
   * checkpoint of an event that takes access away, found in the log (undefined while it
   * is still being looked through) and in live batches that passed it by; null: none.
   */
  revokedInLog: number | null | undefined;
  revokedLive: number | null;
  /** Counts the looks through the log, so a stale one does not write its answer. */
  looks: number;
  /** A bulk load's closing `setup` failed: the next retry runs it before catching up. */
  unfinishedSetup: boolean;
}

/** A batch written: the checkpoint it moved to, its last event's position, how many events it handled. */
type Applied = { checkpoint: LogCursor; position: number; events: number };

export class ProjectionRunner {
  private readonly slots = new Map<string, Slot>();
  private readonly lanes = new Map<string, ExternalLane>();
  private unsubscribe: (() => void) | null = null;
  private startupBuffer: StoredEvent[][] | null = null;
  private live: StoredEvent[][] = [];
  private drainScheduled = false;
  private readonly waiters = new Waiters();
  private readonly batchSize: number;
  private skips = new Map<string, Set<number>>();
  private stopped = false;
  /** How many partitions the log has (1 for every unpartitioned store). */
  readonly partitions: number;

  constructor(
    private readonly store: ProjectionFeed,
    readonly db: Database.Database,
    projections: Array<Projection | ExternalProjection>,
    private readonly options: RunnerOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 1000;
    this.partitions = partitionsOf(store);
    db.exec(`CREATE TABLE IF NOT EXISTS projection_checkpoints (
      name TEXT PRIMARY KEY, version INTEGER NOT NULL, position INTEGER NOT NULL
    ) WITHOUT ROWID`);
    setupSkips(db);
    this.loadSkips();
    for (const p of projections) {
      if (this.slots.has(p.name) || this.lanes.has(p.name)) throw new Error(`two projections are named ${p.name}`);
      if (isExternal(p)) {
        this.lanes.set(
          p.name,
          new ExternalLane(p, store, db, {
            batchSize: this.batchSize,
            retry: this.retryDelay,
            partitions: this.partitions,
            isSkipped: (position) => this.skips.get(p.name)?.has(position) ?? false,
            reloadSkips: () => this.loadSkips(),
            onError: (err, failure) => this.report(p.name, err, failure),
            onRecovered: () => this.recovered(p.name),
            onApplied: (position, n) => this.options.onApplied?.(p.name, position, n),
          }),
        );
        continue;
      }
      const row = prepared(db, 'SELECT version, position FROM projection_checkpoints WHERE name = ?').get(p.name) as
        | { version: number; position: number | string }
        | undefined;
      const checkpoint = row && storedCursor(row.position, this.partitions);
      // A checkpoint of another shape of log (another partition count) says nothing about this one: rebuilt.
      const changed = row !== undefined && (row.version !== p.version || checkpoint === null);
      if (changed) p.drop?.(db);
      p.setup(db);
      const slot: Slot = {
        projection: p,
        handles: new Set(p.handles),
        checkpoint: checkpoint ?? LogCursor.start(this.partitions),
        held: null,
        rebuilding: false,
        failure: null,
        retry: null,
        recovering: null,
        revokedInLog: null,
        revokedLive: null,
        looks: 0,
        unfinishedSetup: false,
      };
      if (changed) this.reset(slot);
      this.slots.set(p.name, slot);
    }
  }

  /** Opens (or creates) a read-model database tuned for rebuildable data. */
  static openDatabase(file: string): Database.Database {
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    // Read models are rebuilt from the log after a crash, so they need no fsync per commit.
    db.pragma('synchronous = NORMAL');
    db.pragma('cache_size = -65536'); // 64 MiB: rebuilds of large logs stay in memory longer
    return db;
  }

  get projectionNames(): string[] {
    return [...this.slots.keys(), ...this.lanes.keys()];
  }

  versionOf(name: string): number | undefined {
    return (this.slots.get(name) ?? this.lanes.get(name))?.projection.version;
  }

  /** The checkpoint's one position, on an unpartitioned log (on a partitioned one: `cursorOf`). */
  checkpointOf(name: string): number {
    return this.cursorOf(name).single;
  }

  /** Where the projection is in the log (the start for an unknown name). */
  cursorOf(name: string): LogCursor {
    return (this.slots.get(name) ?? this.lanes.get(name))?.checkpoint ?? LogCursor.start(this.partitions);
  }

  /** Whether the projection runs, stopped on a failure, or rebuilds; undefined for an unknown name. */
  statusOf(name: string): ProjectionStatus | undefined {
    const slot = this.slots.get(name);
    const lane = this.lanes.get(name);
    if (!slot && !lane) return undefined;
    const failure = slot ? slot.failure : lane!.failure;
    return {
      state: slot?.rebuilding ? 'rebuilding' : failure ? 'failed' : 'running',
      failure: failure && { ...failure },
      skipped: [...(this.skips.get(name) ?? [])].sort((a, b) => a - b),
    };
  }

  /**
   * The lowest checkpoint of the node's own (SQLite) read models, on an unpartitioned log:
   * they have applied the log up to here. External projections run at their own pace and
   * are not counted. On a partitioned log: `cursor`.
   */
  get position(): number {
    return this.cursor.single;
  }

  /** Per partition, the lowest checkpoint of the node's own read models (see `position`). */
  get cursor(): LogCursor {
    return LogCursor.lowest([...this.slots.values()].map((s) => s.checkpoint), this.partitions);
  }

  /** How many read models live in the node's own database (external projections not counted). */
  get ownReadModels(): number {
    return this.slots.size;
  }

  /** What readers need to know of each of the node's own read models (see readiness.ts). */
  readiness(): Readiness[] {
    return [...this.slots.values()].map((s) => ({
      name: s.projection.name,
      checkpoint: s.checkpoint.entries,
      failed: s.failure !== null,
      failedAt: s.failure?.position ?? 0,
      guardsAccess: s.projection.accessRevokedBy !== undefined,
      revokedAt: s.revokedInLog === undefined ? undefined : nullableMin(s.revokedInLog, s.revokedLive),
    }));
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.startupBuffer = [];
    this.unsubscribe = this.store.subscribe((events) => this.onLive(events));
    // A projection that fails here stops (and retries) like one that fails later: the node still starts.
    for (const slot of this.slots.values()) await this.catchUp(slot);
    const buffered = this.startupBuffer;
    this.startupBuffer = null;
    for (const batch of buffered) this.onLive(batch);
    // External projections catch up in the background: a slow warehouse must not hold up start-up.
    for (const lane of this.lanes.values()) lane.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.drainLive();
    for (const slot of this.slots.values()) {
      if (slot.retry) clearTimeout(slot.retry);
      slot.retry = null;
    }
    await Promise.all([...this.slots.values()].map((s) => s.recovering));
    await Promise.all([...this.lanes.values()].map((l) => l.stop()));
  }

  /**
   * Resolves once every running projection has applied the log up to `position`. A
   * projection stopped on a failure is not waited for: its readers get what it holds;
   * but for one with `accessRevokedBy`, rejects with `unavailable` while an event that
   * takes access away, at or before `position`, is not applied (or not known not to be).
   * Past `timeoutMs`, rejects with a coded `unavailable` error.
   */
  waitFor(position: number, timeoutMs = 5000): Promise<void> {
    const models = this.readiness();
    const closed = closedBefore(models, position);
    if (closed) return Promise.reject(closed);
    if (readyFor(models, position)) return Promise.resolve();
    return this.waiters.wait(position, timeoutMs);
  }

  /**
   * Makes `name` pass over the event at `position` (recorded durably, see skips.ts) and, if
   * it is stopped, retries it now.
   */
  skip(name: string, position: number, reason = ''): ProjectionSkip {
    if (!this.slots.has(name) && !this.lanes.has(name)) {
      throw new ParleyError('invalid_request', `unknown projection ${name}; known: ${this.projectionNames.join(', ')}`);
    }
    const skip = recordSkip(this.db, name, position, reason);
    this.loadSkips();
    const slot = this.slots.get(name);
    if (slot?.failure && slot.retry) {
      clearTimeout(slot.retry);
      slot.retry = null;
      this.recover(slot);
    }
    this.lanes.get(name)?.retryNow();
    return skip;
  }

  /**
   * Truncates the named projections (all when none named) and replays the log into them,
   * in one pass: each page of the log is read once and applied to every one of them in one
   * transaction (each on its own when that fails, so only the one that fails stops).
   * With `bulkLoad` (a whole log, nobody reading: `parley rebuild`), projections drop what
   * only readers need first (`beforeBulkLoad`) and `setup` builds it after the pass.
   */
  async rebuild(
    names: string[] = this.projectionNames,
    onProgress?: (name: string, position: number) => void,
    options: { bulkLoad?: boolean } = {},
  ): Promise<void> {
    const slots: Slot[] = [];
    const lanes: ExternalLane[] = [];
    for (const name of new Set(names)) {
      const lane = this.lanes.get(name);
      const slot = this.slots.get(name);
      if (lane) lanes.push(lane);
      else if (!slot) throw new Error(`unknown projection ${name}; known: ${this.projectionNames.join(', ')}`);
      else if (slot.held) throw new ParleyError('conflict', `projection ${name} is already ${slot.rebuilding ? 'rebuilding' : 'catching up'}`);
      else slots.push(slot);
    }
    for (const lane of lanes) await lane.rebuild();
    if (slots.length > 0) await this.rebuildTogether(slots, onProgress, options.bulkLoad ?? false);
    this.notify();
  }

  private async rebuildTogether(slots: Slot[], onProgress: ((name: string, position: number) => void) | undefined, bulkLoad: boolean): Promise<void> {
    for (const slot of slots) {
      if (slot.retry) clearTimeout(slot.retry);
      slot.retry = null;
      slot.held = [];
      slot.rebuilding = true;
    }
    const loading = new Set<Slot>();
    // A rebuild can be redone from the log, so it need not wait for the disk per batch.
    this.db.pragma('synchronous = OFF');
    try {
      this.loadSkips();
      try {
        for (const slot of slots) {
          this.reset(slot);
          const p = slot.projection;
          if (bulkLoad && p.beforeBulkLoad) {
            loading.add(slot);
            this.writeTransaction(() => p.beforeBulkLoad!(this.db));
          }
        }
        await this.catchUpTogether(slots, onProgress);
      } catch (err) {
        // The log could not be read (or a read model not reset): stopped (and retried) like
        // any failure, so the live batches dropped below are read from the log again, never
        // skipped over.
        for (const slot of slots) if (!this.stoppedDuringRebuild(slot)) this.stopOn(slot, null, err);
        throw err;
      } finally {
        for (const slot of loading) this.finishBulkLoad(slot);
      }
      const stopped: Slot[] = [];
      for (const slot of slots) {
        const live = !this.stoppedDuringRebuild(slot) && slot.held!.every((batch) => this.applyOrStop(slot, batch));
        if (live) this.recovered(slot.projection.name, slot);
        else stopped.push(slot);
      }
      if (stopped.length > 0) {
        throw new ParleyError(
          'unavailable',
          stopped
            .map(({ projection, failure: f }) => `projection ${projection.name} stopped at position ${f?.position} (${f?.eventType ?? 'reading the log'}): ${f?.error}`)
            .join('; ') + '; a running node retries it; if that event can never be applied, skip it (parley skip --help)',
        );
      }
    } finally {
      this.db.pragma('synchronous = NORMAL');
      for (const slot of slots) {
        slot.held = null;
        slot.rebuilding = false;
        // A retry that came due during the rebuild found it busy and did nothing: due again.
        if (slot.failure && !slot.retry && !this.stopped) this.retryLater(slot);
      }
    }
  }

  /** Reads each page of the log once and applies it to every slot still going; a slot that stops drops out. */
  private async catchUpTogether(slots: Slot[], onProgress?: (name: string, position: number) => void): Promise<void> {
    let going = slots;
    // Each slot passes over what it has (write filters by its own checkpoint).
    for (let after = LogCursor.lowest(slots.map((s) => s.checkpoint), this.partitions); going.length > 0; ) {
      const events = await readAllAfter(this.store, after, this.batchSize);
      if (events.length === 0) return;
      after = after.advancedBy(events);
      let applied: Array<Applied | null> | null = null;
      try {
        applied = this.writeTransaction(() => going.map((slot) => this.write(slot, events)));
      } catch {
        this.rollbackLeftover();
      }
      if (applied) going.forEach((slot, i) => this.advance(slot, applied[i]!));
      else going = going.filter((slot) => this.applyOrStop(slot, events));
      for (const slot of going) onProgress?.(slot.projection.name, events[events.length - 1]!.position);
    }
  }

  /** True when the slot stopped on an event of this rebuild (not on a failure from before it). */
  private stoppedDuringRebuild(slot: Slot): boolean {
    return slot.failure !== null && !slot.checkpoint.covers(slot.failure.position);
  }

  /**
   * `setup` builds what `beforeBulkLoad` dropped, also for a slot that stopped on the way.
   * Should it fail (a full disk), the slot stops (or stays stopped where it was), and its
   * retry runs `setup` again before it catches up.
   */
  private finishBulkLoad(slot: Slot): void {
    try {
      this.writeTransaction(() => slot.projection.setup(this.db));
      slot.unfinishedSetup = false;
    } catch (err) {
      this.rollbackLeftover();
      slot.unfinishedSetup = true;
      if (this.stoppedDuringRebuild(slot)) this.report(slot.projection.name, err, slot.failure);
      else this.stopOn(slot, null, err);
    }
  }

  private reset(slot: Slot): void {
    const p = slot.projection;
    this.writeTransaction(() => {
      p.truncate(this.db);
      this.saveCheckpoint(p, LogCursor.start(this.partitions));
    });
    slot.checkpoint = LogCursor.start(this.partitions);
  }

  /**
   * Applies the log after the slot's checkpoint up to its head. False when the projection
   * stopped on an event (or the runner is stopping); an error reading the log is thrown.
   */
  private async catchUp(slot: Slot): Promise<boolean> {
    for (;;) {
      if (this.stopped && !slot.rebuilding) return false;
      const events = await readAllAfter(this.store, slot.checkpoint, this.batchSize);
      if (events.length === 0) return true;
      if (!this.applyOrStop(slot, events)) return false;
    }
  }

  /**
   * Live batches are applied just after the feed delivered them, not while it does: the
   * appenders get their acks and the fan-out sends its frames first. Readers that need a
   * read model to include a write wait for it (`waitFor`). Batches that queue up meanwhile
   * are applied together, in one transaction for every read model.
   */
  private onLive(events: StoredEvent[]): void {
    if (this.startupBuffer) {
      this.startupBuffer.push(events);
      return;
    }
    this.live.push(events);
    if (!this.drainScheduled) {
      this.drainScheduled = true;
      setImmediate(() => this.drainLive());
    }
  }

  /** Runs from `setImmediate` and from `stop`: it must not throw, whatever a projection does. */
  private drainLive(): void {
    try {
      this.drainScheduled = false;
      if (this.live.length === 0) return;
      const events = this.live.length === 1 ? this.live[0]! : this.live.flat();
      this.live = [];
      const targets: Slot[] = [];
      for (const slot of this.slots.values()) {
        // A stopped projection reads these from the log when it retries.
        if (slot.failure) this.noteRevocations(slot, events);
        if (slot.held) slot.held.push(events);
        else if (!slot.failure) targets.push(slot);
      }
      let applied: Array<Applied | null> | null = [];
      try {
        // None to write (all stopped, or only external lanes here): no transaction, no wait for the file's write lock.
        if (targets.length > 0) applied = this.writeTransaction(() => targets.map((slot) => this.write(slot, events)));
      } catch {
        // Someone failed, and the whole transaction is gone (SQLite may have rolled it back
        // by itself on SQLITE_FULL or an I/O error): each one again on its own, so only the
        // one that fails stops.
        this.rollbackLeftover();
        applied = null;
      }
      if (applied) targets.forEach((slot, i) => this.advance(slot, applied[i]!));
      else for (const slot of targets) this.applyOrStop(slot, events, true);
      for (const lane of this.lanes.values()) lane.poke();
      this.notify();
    } catch (err) {
      this.report('(runner)', err, null);
    }
  }

  /**
   * Applies a batch to one projection in its own transaction. When that fails, applies it
   * again one event at a time, so everything before the failing event stays applied and
   * the failure names its position; then stops the projection there. True when all applied.
   * `newest`: the batch is the live feed's latest, right after the checkpoint (see stopOn).
   */
  private applyOrStop(slot: Slot, events: StoredEvent[], newest = false): boolean {
    try {
      this.advance(slot, this.write(slot, events));
      return true;
    } catch {
      this.rollbackLeftover();
    }
    for (const e of events) {
      if (slot.checkpoint.covers(e.position)) continue;
      try {
        this.advance(slot, this.write(slot, [e]));
      } catch (err) {
        this.rollbackLeftover();
        this.stopOn(slot, e, err, newest ? events : null);
        return false;
      }
    }
    return true;
  }

  /** Writes a batch and the new checkpoint in one (nested: savepoint) transaction; the caller advances after commit. */
  private write(slot: Slot, events: StoredEvent[]): Applied | null {
    const fresh = events.filter((e) => !slot.checkpoint.covers(e.position));
    if (fresh.length === 0) return null;
    const skipped = this.skips.get(slot.projection.name);
    const relevant = fresh.filter((e) => slot.handles.has(e.type) && !skipped?.has(e.position));
    const checkpoint = slot.checkpoint.advancedBy(fresh);
    this.writeTransaction(() => {
      if (relevant.length > 0) slot.projection.handle(relevant, this.db);
      this.saveCheckpoint(slot.projection, checkpoint);
    });
    return { checkpoint, position: fresh[fresh.length - 1]!.position, events: relevant.length };
  }

  private advance(slot: Slot, applied: Applied | null): void {
    if (!applied) return;
    slot.checkpoint = applied.checkpoint;
    try {
      this.options.onApplied?.(slot.projection.name, applied.position, applied.events);
    } catch (err) {
      this.report('(runner)', err, null);
    }
  }

  /**
   * A transaction that takes the write lock when it begins (nested: a savepoint). The file
   * may have another writer (the read-model thread beside projections on the main thread):
   * a deferred transaction that read first could not wait for that writer, it would fail
   * with SQLITE_BUSY at once; this one waits for it (busy_timeout).
   */
  private writeTransaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /** After a failed statement SQLite may leave the transaction open (or have closed it itself). */
  private rollbackLeftover(): void {
    try {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
    } catch {
      // The connection rolls back on its own when it can; the next attempt starts fresh.
    }
  }

  private get retryDelay(): (attempts: number) => number {
    const initial = this.options.retry?.initialMs ?? 100;
    const max = this.options.retry?.maxMs ?? 10_000;
    return (attempts) => backoffDelay(attempts - 1, { initialMs: initial, maxMs: max });
  }

  /**
   * Stops the projection on `e` (null: reading the log failed), reports it and schedules a
   * retry. `newest`: the live batch it failed on, when that is all the log holds after its
   * checkpoint so far (later events come live and are noted): then whether access was taken
   * away is known at once, and readers are not refused while the log is looked through.
   */
  private stopOn(slot: Slot, e: StoredEvent | null, err: unknown, newest: StoredEvent[] | null = null): void {
    const attempts = (slot.failure?.attempts ?? 0) + 1;
    const delay = this.retryDelay(attempts);
    if (!slot.failure && slot.projection.accessRevokedBy) {
      if (newest) this.revocationsIn(slot, newest);
      else this.lookForRevocations(slot);
    }
    slot.failure = {
      position: e?.position ?? slot.checkpoint.next,
      eventType: e?.type ?? null,
      stream: e?.stream ?? null,
      error: err instanceof Error ? err.message : String(err),
      code: errorCode(err),
      since: slot.failure?.since ?? Date.now(),
      attempts,
      nextRetryAt: this.stopped ? null : Date.now() + delay,
    };
    this.report(slot.projection.name, err, slot.failure);
    if (this.stopped) return;
    this.retryLater(slot, delay);
    // Readers stop waiting for it.
    this.notify();
  }

  private retryLater(slot: Slot, delay = this.retryDelay(slot.failure?.attempts ?? 1)): void {
    if (slot.retry) clearTimeout(slot.retry);
    if (slot.failure) slot.failure.nextRetryAt = Date.now() + delay;
    slot.retry = setTimeout(() => {
      slot.retry = null;
      this.recover(slot);
    }, delay);
    // A retry alone must not keep a process (a CLI, a test) alive.
    slot.retry.unref?.();
  }

  /** Retries a stopped projection: catches up from the log while live batches wait, then runs live again. */
  private recover(slot: Slot): void {
    if (this.stopped || !slot.failure || slot.held) return;
    slot.failure.nextRetryAt = null;
    slot.held = [];
    this.loadSkips();
    const attempt = (async () => {
      try {
        if (slot.unfinishedSetup) {
          this.writeTransaction(() => slot.projection.setup(this.db));
          slot.unfinishedSetup = false;
        }
        const done = (await this.catchUp(slot)) && slot.held!.every((batch) => this.applyOrStop(slot, batch));
        if (done && !this.stopped) this.recovered(slot.projection.name, slot);
      } catch (err) {
        this.stopOn(slot, null, err);
      } finally {
        slot.held = null;
        slot.recovering = null;
        this.notify();
      }
    })();
    slot.recovering = attempt;
  }

  private recovered(name: string, slot?: Slot): void {
    if (slot) {
      if (!slot.failure) return;
      slot.failure = null;
      slot.revokedInLog = null;
      slot.revokedLive = null;
    }
    try {
      this.options.onRecovered?.(name);
    } catch (err) {
      this.report('(runner)', err, null);
    }
  }

  /**
   * A projection that guards access just stopped: until the log after its checkpoint has
   * been looked through for events that take access away, readers are refused; live
   * batches that pass it by meanwhile are looked at as they come (`noteRevocations`).
   */
  private lookForRevocations(slot: Slot): void {
    const revokers = slot.projection.accessRevokedBy!;
    slot.revokedInLog = undefined;
    slot.revokedLive = null;
    const look = ++slot.looks;
    void (async () => {
      let found: number | null = null;
      for (let after = slot.checkpoint; found === null; ) {
        const page = await readAllAfter(this.store, after, this.batchSize);
        if (page.length === 0) break;
        found = page.find((e) => revokers.includes(e.type))?.position ?? null;
        after = after.advancedBy(page);
      }
      if (slot.failure && slot.looks === look) slot.revokedInLog = found;
      this.notify();
    })().catch(() => {
      // The log cannot be read now: readers stay refused until the projection recovers.
    });
  }

  /** Like lookForRevocations, for a stop on the newest live batch: nothing after it to read. */
  private revocationsIn(slot: Slot, newest: StoredEvent[]): void {
    const revokers = slot.projection.accessRevokedBy!;
    slot.looks++;
    slot.revokedLive = null;
    slot.revokedInLog = newest.find((e) => !slot.checkpoint.covers(e.position) && revokers.includes(e.type))?.position ?? null;
  }

  private noteRevocations(slot: Slot, events: StoredEvent[]): void {
    const revokers = slot.projection.accessRevokedBy;
    if (!revokers) return;
    const first = events.find((e) => !slot.checkpoint.covers(e.position) && revokers.includes(e.type));
    if (first) slot.revokedLive = Math.min(first.position, slot.revokedLive ?? Infinity);
  }

  private report(name: string, err: unknown, failure: ProjectionFailure | null): void {
    try {
      if (this.options.onError && failure) this.options.onError(name, err, failure);
      else console.error(`projection ${name} failed${failure ? ` at position ${failure.position}; retrying` : ''}`, err);
    } catch {
      // Reporting must not be the thing that fails.
    }
  }

  private loadSkips(): void {
    try {
      this.skips = skippedPositions(this.db);
    } catch {
      // Unreadable now (a locked or full file): keep the ones known; the next retry reads again.
    }
  }

  private saveCheckpoint(p: Projection, checkpoint: LogCursor): void {
    prepared(
      this.db,
      'INSERT INTO projection_checkpoints VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET version = excluded.version, position = excluded.position',
    ).run(p.name, p.version, storedToken(checkpoint));
  }

  private notify(): void {
    try {
      this.options.onProgress?.();
    } catch (err) {
      this.report('(runner)', err, null);
    }
    const models = this.readiness();
    this.waiters.settle(
      (position) => readyFor(models, position),
      (position) => closedBefore(models, position),
    );
  }
}

/** The lower of two positions where null means none. */
function nullableMin(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  return b === null ? a : Math.min(a, b);
}

function errorCode(err: unknown): string | null {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : null;
}
