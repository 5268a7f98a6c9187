/** The lower layers' types sync builds on, imported in one place (never the node: see host.ts). */
export type { EventStore, StoredEvent } from '../engine/store/index.js';
export type * as domain from '../engine/domain/index.js';
export type { Projection } from '../projections/index.js';
export type { SyncHost, SyncNodeExtension } from './host.js';
