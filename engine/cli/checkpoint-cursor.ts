/**
 * A read model's stored checkpoint (projection_checkpoints.position: a number on an
 * unpartitioned log, a cursor token on a partitioned one) as a cursor of the log at hand.
 */
import { cursorFor, isInvalidCursorError, type EventStore, type LogCursor } from '../store/index.js';

/** Undefined when the checkpoint is of another shape of log (another partition count): the node rebuilds that read model. */
export function checkpointCursor(store: EventStore, stored: number | string): LogCursor | undefined {
  try {
    return cursorFor(store, stored);
  } catch (err) {
    if (isInvalidCursorError(err)) return undefined;
    throw err;
  }
}
