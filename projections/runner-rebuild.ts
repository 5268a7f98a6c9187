/**
 * Rebuilds: a projection truncated and the log replayed into it, while its live batches
 * wait, so a rebuild never overlaps a live run. Several rebuild in one pass over the log.
 */
import { LogCursor, readAllAfter } from '../engine/store/index.js';
import { ParleyError } from '../protocol/index.js';
import type { ExternalLane } from './external.js';
import { rollbackLeftover, writeTransaction } from './runner-database.js';
import type { Applied, Slot } from './runner-slot.js';
import { SlotApplication } from './slot-application.js';

export abstract class RebuildingRunner extends SlotApplication {
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
            writeTransaction(this.db, () => p.beforeBulkLoad!(this.db));
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
        applied = writeTransaction(this.db, () => going.map((slot) => this.write(slot, events)));
      } catch {
        rollbackLeftover(this.db);
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
      writeTransaction(this.db, () => slot.projection.setup(this.db));
      slot.unfinishedSetup = false;
    } catch (err) {
      rollbackLeftover(this.db);
      slot.unfinishedSetup = true;
      if (this.stoppedDuringRebuild(slot)) this.report(slot.projection.name, err, slot.failure);
      else this.stopOn(slot, null, err);
    }
  }
}
