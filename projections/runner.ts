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
import type Database from 'better-sqlite3';
import { LogCursor, type StoredEvent } from '../engine/store/index.js';
import { ParleyError } from '../protocol/index.js';
import { ExternalLane, isExternal, type ExternalProjection } from './external.js';
import type { Projection } from './projection.js';
import { closedBefore, readyFor } from './readiness.js';
import { noteRevocations } from './revocations.js';
import type { ProjectionFeed, RunnerOptions } from './runner-options.js';
import { createCheckpointTable, openReadModelDatabase, readCheckpoint, rollbackLeftover, writeTransaction } from './runner-database.js';
import { RebuildingRunner } from './runner-rebuild.js';
import { newSlot, type Applied, type Slot } from './runner-slot.js';
import { storedCursor } from './stored-checkpoint.js';
import { recordSkip, setupSkips, type ProjectionSkip } from './skips.js';
import type { ProjectionStatus } from './status.js';

export type { ProjectionFeed, RunnerOptions } from './runner-options.js';
export type { ProjectionFailure, ProjectionStatus } from './status.js';

export class ProjectionRunner extends RebuildingRunner {
  private unsubscribe: (() => void) | null = null;
  private startupBuffer: StoredEvent[][] | null = null;
  private live: StoredEvent[][] = [];
  private drainScheduled = false;

  constructor(store: ProjectionFeed, db: Database.Database, projections: Array<Projection | ExternalProjection>, options: RunnerOptions = {}) {
    super(store, db, options);
    createCheckpointTable(db);
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
      const row = readCheckpoint(db, p.name);
      const checkpoint = row && storedCursor(row.position, this.partitions);
      // A checkpoint of another shape of log (another partition count) says nothing about this one: rebuilt.
      const changed = row !== undefined && (row.version !== p.version || checkpoint === null);
      if (changed) p.drop?.(db);
      p.setup(db);
      const slot = newSlot(p, checkpoint ?? LogCursor.start(this.partitions));
      if (changed) this.reset(slot);
      this.slots.set(p.name, slot);
    }
  }

  /** Opens (or creates) a read-model database tuned for rebuildable data. */
  static openDatabase(file: string): Database.Database {
    return openReadModelDatabase(file);
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
        if (slot.failure) noteRevocations(slot, events);
        if (slot.held) slot.held.push(events);
        else if (!slot.failure) targets.push(slot);
      }
      let applied: Array<Applied | null> | null = [];
      try {
        // None to write (all stopped, or only external lanes here): no transaction, no wait for the file's write lock.
        if (targets.length > 0) applied = writeTransaction(this.db, () => targets.map((slot) => this.write(slot, events)));
      } catch {
        // Someone failed, and the whole transaction is gone (SQLite may have rolled it back
        // by itself on SQLITE_FULL or an I/O error): each one again on its own, so only the
        // one that fails stops.
        rollbackLeftover(this.db);
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
}
