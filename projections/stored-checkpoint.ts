/**
 * How a checkpoint (a log cursor, engine/store/log-cursor.ts) sits in
 * `projection_checkpoints.position`: a one-partition cursor as its number (INTEGER, exactly
 * as before cursors existed: no migration), a cursor over N > 1 partitions as its token
 * (TEXT in the same column: SQLite's INTEGER affinity keeps a string that is not a number
 * as it is).
 */
import { isInvalidCursorError, LogCursor } from '../engine/store/index.js';

export function storedToken(checkpoint: LogCursor): number | string {
  return checkpoint.partitions === 1 ? checkpoint.single : checkpoint.encode();
}

/** A stored checkpoint read for a log of `n` partitions; null when it belongs to another shape of log. */
export function storedCursor(stored: number | string, n: number): LogCursor | null {
  try {
    return LogCursor.decode(stored, n);
  } catch (err) {
    if (isInvalidCursorError(err)) return null;
    throw err;
  }
}
