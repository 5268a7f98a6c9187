/** The NATS JetStream adapter of the EventStore port. */
export { JetStreamEventStore, AppendTooLargeError } from './jetstream-store.js';
export type { JetStreamStoreOptions } from './options.js';
export type { ServerFeatures } from './features.js';
export { MAX_EVENTS_PER_APPEND } from './envelope.js';
export { InvalidStreamNameError } from './subjects.js';
export { MalformedEnvelopeError } from './envelope.js';
export { UnsafeServerVersionError, serverBugsFor, parseServerVersion, KNOWN_SERVER_BUGS } from './server-bugs.js';
export type { KnownServerBug } from './server-bugs.js';
export { DuplicateSeqError } from './duplicate-seqs.js';
export type { DuplicateSeq } from './duplicate-seqs.js';
export { PartitionedJetStreamStore } from './partitioned-store.js';
export type { PartitionedStoreOptions } from './partitioned-store.js';
export { PartitionCountMismatchError } from './partition-layout.js';
export { generationOptions, generationStreams, currentPointer, liveGeneration, connectGeneration } from './log-generations.js';
export { LogPointerConflictError, MalformedLogPointerError } from './log-pointer.js';
export type { LogPointer, GenerationRef } from './log-pointer.js';
export { gateAppends, LogGenerationMovedError } from './append-gate.js';
