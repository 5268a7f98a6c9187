/** One read model of the node's own database as the runner tracks it: where it is, and whether it runs. */
import type { LogCursor, StoredEvent } from '../engine/store/index.js';
import type { Projection } from './projection.js';
import type { Readiness } from './readiness.js';
import type { ProjectionFailure } from './status.js';

export interface Slot {
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
export type Applied = { checkpoint: LogCursor; position: number; events: number };

/** A slot for `p` at `checkpoint`, running. */
export function newSlot(p: Projection, checkpoint: LogCursor): Slot {
  return {
    projection: p,
    handles: new Set(p.handles),
    checkpoint,
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
}

/** What readers need to know of the slot's read model (see readiness.ts). */
export function readinessOf(s: Slot): Readiness {
  return {
    name: s.projection.name,
    checkpoint: s.checkpoint.entries,
    failed: s.failure !== null,
    failedAt: s.failure?.position ?? 0,
    guardsAccess: s.projection.accessRevokedBy !== undefined,
    revokedAt: s.revokedInLog === undefined ? undefined : nullableMin(s.revokedInLog, s.revokedLive),
  };
}

/** The lower of two positions where null means none. */
function nullableMin(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  return b === null ? a : Math.min(a, b);
}

export function errorCode(err: unknown): string | null {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : null;
}
