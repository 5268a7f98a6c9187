/**
 * The runner's work on each of the node's own read models (a slot): catching up from the
 * log, applying a batch in the same transaction as its checkpoint, and stopping on a
 * failure, alone, to be retried with a growing pause (see runner.ts for the whole story).
 * Rebuilds (runner-rebuild.ts) and the live feed (runner.ts) build on these.
 */
import type Database from 'better-sqlite3';
import { backoffDelay, LogCursor, partitionsOf, readAllAfter, type StoredEvent } from '../engine/store/index.js';
import type { ExternalLane } from './external.js';
import { closedBefore, readyFor, Waiters, type Readiness } from './readiness.js';
import { lookForRevocations, revocationsIn } from './revocations.js';
import type { ProjectionFeed, RunnerOptions } from './runner-options.js';
import { rollbackLeftover, saveCheckpoint, writeTransaction } from './runner-database.js';
import { errorCode, readinessOf, type Applied, type Slot } from './runner-slot.js';
import { skippedPositions } from './skips.js';
import type { ProjectionFailure } from './status.js';

export abstract class SlotApplication {
  protected readonly slots = new Map<string, Slot>();
  protected readonly lanes = new Map<string, ExternalLane>();
  protected readonly waiters = new Waiters();
  protected readonly batchSize: number;
  protected skips = new Map<string, Set<number>>();
  protected stopped = false;
  /** How many partitions the log has (1 for every unpartitioned store). */
  readonly partitions: number;

  constructor(
    protected readonly store: ProjectionFeed,
    readonly db: Database.Database,
    protected readonly options: RunnerOptions,
  ) {
    this.batchSize = options.batchSize ?? 1000;
    this.partitions = partitionsOf(store);
  }

  get projectionNames(): string[] {
    return [...this.slots.keys(), ...this.lanes.keys()];
  }

  /** What readers need to know of each of the node's own read models (see readiness.ts). */
  readiness(): Readiness[] {
    return [...this.slots.values()].map(readinessOf);
  }

  protected reset(slot: Slot): void {
    const p = slot.projection;
    writeTransaction(this.db, () => {
      p.truncate(this.db);
      saveCheckpoint(this.db, p, LogCursor.start(this.partitions));
    });
    slot.checkpoint = LogCursor.start(this.partitions);
  }

  /**
   * Applies the log after the slot's checkpoint up to its head. False when the projection
   * stopped on an event (or the runner is stopping); an error reading the log is thrown.
   */
  protected async catchUp(slot: Slot): Promise<boolean> {
    for (;;) {
      if (this.stopped && !slot.rebuilding) return false;
      const events = await readAllAfter(this.store, slot.checkpoint, this.batchSize);
      if (events.length === 0) return true;
      if (!this.applyOrStop(slot, events)) return false;
    }
  }

  /**
   * Applies a batch to one projection in its own transaction. When that fails, applies it
   * again one event at a time, so everything before the failing event stays applied and
   * the failure names its position; then stops the projection there. True when all applied.
   * `newest`: the batch is the live feed's latest, right after the checkpoint (see stopOn).
   */
  protected applyOrStop(slot: Slot, events: StoredEvent[], newest = false): boolean {
    try {
      this.advance(slot, this.write(slot, events));
      return true;
    } catch {
      rollbackLeftover(this.db);
    }
    for (const e of events) {
      if (slot.checkpoint.covers(e.position)) continue;
      try {
        this.advance(slot, this.write(slot, [e]));
      } catch (err) {
        rollbackLeftover(this.db);
        this.stopOn(slot, e, err, newest ? events : null);
        return false;
      }
    }
    return true;
  }

  /** Writes a batch and the new checkpoint in one (nested: savepoint) transaction; the caller advances after commit. */
  protected write(slot: Slot, events: StoredEvent[]): Applied | null {
    const fresh = events.filter((e) => !slot.checkpoint.covers(e.position));
    if (fresh.length === 0) return null;
    const skipped = this.skips.get(slot.projection.name);
    const relevant = fresh.filter((e) => slot.handles.has(e.type) && !skipped?.has(e.position));
    const checkpoint = slot.checkpoint.advancedBy(fresh);
    writeTransaction(this.db, () => {
      if (relevant.length > 0) slot.projection.handle(relevant, this.db);
      saveCheckpoint(this.db, slot.projection, checkpoint);
    });
    return { checkpoint, position: fresh[fresh.length - 1]!.position, events: relevant.length };
  }

  protected advance(slot: Slot, applied: Applied | null): void {
    if (!applied) return;
    slot.checkpoint = applied.checkpoint;
    try {
      this.options.onApplied?.(slot.projection.name, applied.position, applied.events);
    } catch (err) {
      this.report('(runner)', err, null);
    }
  }

  protected get retryDelay(): (attempts: number) => number {
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
  protected stopOn(slot: Slot, e: StoredEvent | null, err: unknown, newest: StoredEvent[] | null = null): void {
    const attempts = (slot.failure?.attempts ?? 0) + 1;
    const delay = this.retryDelay(attempts);
    if (!slot.failure && slot.projection.accessRevokedBy) {
      if (newest) revocationsIn(slot, newest);
      else lookForRevocations(slot, this.store, this.batchSize, () => this.notify());
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

  protected retryLater(slot: Slot, delay = this.retryDelay(slot.failure?.attempts ?? 1)): void {
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
  protected recover(slot: Slot): void {
    if (this.stopped || !slot.failure || slot.held) return;
    slot.failure.nextRetryAt = null;
    slot.held = [];
    this.loadSkips();
    const attempt = (async () => {
      try {
        if (slot.unfinishedSetup) {
          writeTransaction(this.db, () => slot.projection.setup(this.db));
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

  protected recovered(name: string, slot?: Slot): void {
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

  protected report(name: string, err: unknown, failure: ProjectionFailure | null): void {
    try {
      if (this.options.onError && failure) this.options.onError(name, err, failure);
      else console.error(`projection ${name} failed${failure ? ` at position ${failure.position}; retrying` : ''}`, err);
    } catch {
      // Reporting must not be the thing that fails.
    }
  }

  protected loadSkips(): void {
    try {
      this.skips = skippedPositions(this.db);
    } catch {
      // Unreadable now (a locked or full file): keep the ones known; the next retry reads again.
    }
  }

  protected notify(): void {
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
