/**
 * Parley's engine: the domain, the EventStore port and its adapters, and the node.
 * Other top-level folders and tools import the engine only from here.
 */
export * from './node/index.js';
export * from './store/index.js';
export * as domain from './domain/index.js';
