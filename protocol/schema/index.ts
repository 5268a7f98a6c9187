/**
 * The contract as schemas (TypeBox, i.e. JSON Schema): every command, frame, event and
 * HTTP body once. The node validates with them and documents its API from them
 * (OpenAPI); the types in ../ are derived from them, so code that imports only types
 * (client-lib) never loads this folder.
 */
export * from './primitives.js';
export * from './commands.js';
export * from './events.js';
export * from './errors.js';
export * from './frames.js';
export * from './http.js';
export * from './webhook-events.js';
export * from './webhook-http.js';
export * from './moderation.js';
export * from './threads.js';
export * from './attachments.js';
export * from './retention.js';
