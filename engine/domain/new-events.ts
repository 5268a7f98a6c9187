import type { NewEvent } from '../store/index.js';
import { schemaVersionOf } from './schema-versions.js';
import { timeOrderedId } from './time-ordered-id.js';

/** Stamps decided events with ids and metadata, ready to append. */
export function toNewEvents(
  decided: ReadonlyArray<{ type: string; data: unknown }>,
  meta: { actor: string; commandId: string; correlationId?: string; at?: number },
): NewEvent[] {
  const at = meta.at ?? Date.now();
  return decided.map((e) => ({
    id: timeOrderedId(at),
    type: e.type,
    data: e.data,
    metadata: {
      actor: meta.actor,
      commandId: meta.commandId,
      correlationId: meta.correlationId ?? meta.commandId,
      at,
      schemaVersion: schemaVersionOf(e.type),
    },
  }));
}
