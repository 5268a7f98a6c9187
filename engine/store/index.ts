/**
 * The EventStore port and its embedded adapter. Other layers (projections, sync, the
 * node) import the store only from here. The JetStream adapter lives in ./jetstream.
 */
export * from './port.js';
export * from './errors.js';
export { SqliteEventStore, type SqliteStoreOptions } from './sqlite.js';
export type { EventRow } from './sqlite-schema.js';
export type { CheckpointReport, WalCheckpointSettings } from './sqlite-checkpoints.js';
export { withReadTimings } from './timed-reads.js';
export { decorate } from './decorate.js';
export { LogCursor, InvalidCursorError, isInvalidCursorError, partitionedLogOf, partitionsOf, readAllAfter, headCursorOf, cursorFor } from './log-cursor.js';
export type { PartitionedLog } from './log-cursor.js';
export { partitionOf, fnv1a32, MAX_PARTITIONS } from './partitions.js';
export { backoffDelay, type Backoff } from './backoff.js';
export { BoundedMap } from './bounded-map.js';
