/** The EventStoreDB / KurrentDB adapter of the EventStore port. */
export { EventStoreDbEventStore, type EventStoreDbStoreOptions } from './eventstoredb-store.js';
export { EventStoreDbError, EventStoreDbAccessError, AppendTooLargeError, EventStoreDbUnreachableError, translateError, startupError, connectionStringError, redactUrl, clientErrorType } from './errors.js';
export { MalformedEventError, toEventData, fromRecorded, idempotencyOf, keyedEventId, esIdOf, derivedUuid, type EsEventData, type EsRecordedEvent } from './event-data.js';
export { namesFor, eventFilterOf, isEventStream, esStreamOf, portStreamOf, idempotencyStreamOf, isIdempotencyStream, InvalidNamespaceError, DEFAULT_NAMESPACE, type Names } from './names.js';
export { seqOfRevision, revisionOfSeq, expectedRevisionOf, versionOfRevision, positionOf, endPositionOf, isAfter, startAfter, PositionOutOfRangeError, type EsPosition } from './positions.js';
export { giveUpOn, readEsStream, lastPosition } from './log-reads.js';
export { startsAfter, needsPage, pagePrefixes, pageStart, pageStep, resumeAfter, SignalOrder, PAGE_START, type PageSignal, type PageBounds, type PageEnd, type PageProgress, type EndOfAll } from './filtered-page.js';
export { endOfAll, readFilteredPage, readFiltered, scanFiltered, type FilteredRead, type PageStartAt } from './filtered-reads.js';
export { AppendQueue } from './append-queue.js';
export { checkConnectionOptions, connectionOptionsOf, type ConnectionOption } from './connection-string.js';
export { entryOf } from './idempotency-index.js';
export { sortedByUtf8 } from './idempotency-records.js';
export { KeyedAppends, type ScannedEvent } from './keyed-appends.js';
