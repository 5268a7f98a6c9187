/**
 * Log cursors (engine/store/log-cursor.ts) as the read-model thread and its mirror on the
 * main thread pass them around: a readiness checkpoint crosses threads as its plain
 * entries (readiness.ts), a place in the log as its token; both sides rebuild the cursor
 * here, for a log of a known partition count.
 */
import { LogCursor } from '../engine/store/index.js';

/** The cursor whose per-partition entries are `entries` (a Readiness checkpoint), in a log of `n` partitions. */
export function cursorOfEntries(entries: readonly number[], n: number): LogCursor {
  return LogCursor.start(n).advancedBy(positionsOf(entries));
}

/** Per partition, the further of two cursors of the same log: what either of them covers. */
export function furthest(a: LogCursor, b: LogCursor): LogCursor {
  return a.advancedBy(positionsOf(b.entries));
}

function positionsOf(entries: readonly number[]): Array<{ position: number }> {
  return entries.filter((p) => p > 0).map((position) => ({ position }));
}
