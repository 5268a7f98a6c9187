/**
 * Where a stopped projection that guards access (`accessRevokedBy`) has an event that
 * takes access away not applied: readers of that position are refused (fail closed, see
 * runner.ts) until it recovers, so a removed member is never let in by a stale read model.
 */
import { readAllAfter, type StoredEvent } from '../engine/store/index.js';
import type { ProjectionFeed } from './runner-options.js';
import type { Slot } from './runner-slot.js';

/**
 * A projection that guards access just stopped: until the log after its checkpoint has
 * been looked through for events that take access away, readers are refused; live
 * batches that pass it by meanwhile are looked at as they come (`noteRevocations`).
 * `looked`: the answer is known (readiness may have changed).
 */
export function lookForRevocations(slot: Slot, store: ProjectionFeed, batchSize: number, looked: () => void): void {
  const revokers = slot.projection.accessRevokedBy!;
  slot.revokedInLog = undefined;
  slot.revokedLive = null;
  const look = ++slot.looks;
  void (async () => {
    let found: number | null = null;
    for (let after = slot.checkpoint; found === null; ) {
      const page = await readAllAfter(store, after, batchSize);
      if (page.length === 0) break;
      found = page.find((e) => revokers.includes(e.type))?.position ?? null;
      after = after.advancedBy(page);
    }
    if (slot.failure && slot.looks === look) slot.revokedInLog = found;
    looked();
  })().catch(() => {
    // The log cannot be read now: readers stay refused until the projection recovers.
  });
}

/** Like lookForRevocations, for a stop on the newest live batch: nothing after it to read. */
export function revocationsIn(slot: Slot, newest: StoredEvent[]): void {
  const revokers = slot.projection.accessRevokedBy!;
  slot.looks++;
  slot.revokedLive = null;
  slot.revokedInLog = newest.find((e) => !slot.checkpoint.covers(e.position) && revokers.includes(e.type))?.position ?? null;
}

export function noteRevocations(slot: Slot, events: StoredEvent[]): void {
  const revokers = slot.projection.accessRevokedBy;
  if (!revokers) return;
  const first = events.find((e) => !slot.checkpoint.covers(e.position) && revokers.includes(e.type));
  if (first) slot.revokedLive = Math.min(first.position, slot.revokedLive ?? Infinity);
}
