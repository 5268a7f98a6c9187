/** The engine and projection types sync builds on, imported in one place. */
export type { EventStore, StoredEvent, NodeContext, NodeExtension, domain } from '../engine/index.js';
export type { Projection } from '../projections/index.js';
