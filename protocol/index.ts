/**
 * The wire protocol: the one place where server (engine/) and client (client-lib/) agree
 * on frames, commands, events, error codes and close codes. It imports nothing else.
 */
export * from './errors.js';
export * from './close-codes.js';
export * from './commands.js';
export * from './events.js';
export * from './frames.js';
export * from './http.js';
export * from './doc-names.js';
export * from './sync-frames.js';
export { isWellFormed, toWellFormed } from './well-formed.js';
export * from './moderation.js';
export * from './threads.js';
export * from './attachments.js';
