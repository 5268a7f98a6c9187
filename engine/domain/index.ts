/** The domain: pure deciders and the event shapes they produce. No I/O here. */
export * from './conversation.js';
export * from './presence.js';
export * from './permissions.js';
export { can, roleOf, type ModerationState } from './moderation.js';
export { toNewEvents } from './new-events.js';
export { timeOrderedId } from './time-ordered-id.js';
export { SCHEMA_VERSIONS, schemaVersionOf, upcast } from './schema-versions.js';
export { withUpcasting } from './upcasting.js';
export { isWellFormed, toWellFormed } from '../../protocol/index.js';
export { decideUpload, decideDiscard, fetchableUpload, uploadsOf, type UploadState } from './attachments.js';
export { decideExpiry, redactionPatches, MAX_EXPIRED_PER_EVENT, type EventPatch, type RetentionState } from './retention.js';
export { redactEvent, redactionPatch, isContentEvent, contentMessageId } from './redaction.js';
