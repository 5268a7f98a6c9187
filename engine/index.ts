/**
 * Parley's engine: the domain, the EventStore port and its adapters, and the node.
 * Other top-level folders and tools import the engine only from here. Compiled, this is
 * the server package's entry (`import { startNode } from 'parley'`; package.json exports).
 */
export * from './node/index.js';
export * from './store/index.js';
export * as domain from './domain/index.js';
// Read models an app adds with `startNode({ projections })`.
export {
  defineProjection,
  defineExternalProjection,
  type Projection,
  type ExternalProjection,
  type EventOf,
  type KnownEventType,
} from '../projections/index.js';
