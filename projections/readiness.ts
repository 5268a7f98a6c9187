/**
 * When a reader of the read models may go ahead: the one rule, shared by the in-process
 * runner and the read-model thread's stand-in on the main thread (read-model-thread.ts),
 * which learns the same facts from the thread's progress messages.
 *
 * A reader of position P waits until every running read model has applied P. A stopped
 * one is not waited for (its readers get what it holds, stale), except a read model access
 * control reads (`accessRevokedBy`): while it is stopped short of P with an event that
 * takes access away at or before P (or not yet known not to be), readers get `unavailable`.
 *
 * A checkpoint is a log cursor's entries (log-cursor.ts): one position on an unpartitioned
 * log, one per partition on a partitioned one, where "applied P" means P's partition's
 * entry is at or past P. Positions of different partitions have no order, so there
 * "a revocation at or before P" cannot be told: any revocation not applied closes.
 */
import { ParleyError } from '../protocol/index.js';

/** What readers need to know of one read model. */
export interface Readiness {
  name: string;
  /** Per partition, the last position applied (LogCursor entries: plain numbers, so it crosses threads). */
  checkpoint: readonly number[];
  /** Stopped on a failure. */
  failed: boolean;
  /** The position it stopped at (meaningful while failed). */
  failedAt: number;
  /** It guards access (`accessRevokedBy`). */
  guardsAccess: boolean;
  /**
   * While failed and guarding: the first position after its checkpoint of an event that
   * takes access away; undefined while that is not known yet; null: none.
   */
  revokedAt: number | null | undefined;
}

/** True when a checkpoint has applied `position` (the entry of its partition is at or past it). */
export function applied(checkpoint: readonly number[], position: number): boolean {
  return position <= (checkpoint[position % checkpoint.length] ?? 0);
}

/** True when every running read model has applied `position` (also when none runs). */
export function readyFor(models: Iterable<Readiness>, position: number): boolean {
  for (const m of models) if (!m.failed && !applied(m.checkpoint, position)) return false;
  return true;
}

/** The error for readers of `position` when a stopped read model access control needs has a revocation missing. */
export function closedBefore(models: Iterable<Readiness>, position: number): ParleyError | null {
  for (const m of models) {
    if (!m.failed || !m.guardsAccess || applied(m.checkpoint, position)) continue;
    const ordered = m.checkpoint.length === 1;
    if (m.revokedAt === undefined || (m.revokedAt !== null && (!ordered || m.revokedAt <= position))) {
      return new ParleyError('unavailable', `read model ${m.name} is stopped (at position ${m.failedAt}); try again later`);
    }
  }
  return null;
}

interface Waiter {
  position: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** Readers waiting for a position, each with a bound on how long. */
export class Waiters {
  private waiting: Waiter[] = [];

  /** Readers waiting for a position now. */
  get size(): number {
    return this.waiting.length;
  }

  /**
   * Resolves once `ready(position)` says so at a `settle`; rejects with what `closed`
   * says, or with `unavailable` past `timeoutMs`.
   */
  wait(position: number, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        position,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        this.waiting = this.waiting.filter((w) => w !== waiter);
        reject(new ParleyError('unavailable', `read models did not reach position ${position} in ${timeoutMs} ms; try again`));
      }, timeoutMs);
      this.waiting.push(waiter);
    });
  }

  /** Lets go of every waiter `ready` accepts, and rejects those `closed` names an error for. */
  settle(ready: (position: number) => boolean, closed: (position: number) => Error | null): void {
    if (this.waiting.length === 0) return;
    const still: Waiter[] = [];
    for (const w of this.waiting) {
      const err = closed(w.position);
      if (err) w.reject(err);
      else if (ready(w.position)) w.resolve();
      else still.push(w);
    }
    this.waiting = still;
  }

  /** Rejects every waiter (the read models cannot answer for now). */
  failAll(err: () => Error): void {
    const all = this.waiting;
    this.waiting = [];
    for (const w of all) w.reject(err());
  }
}
