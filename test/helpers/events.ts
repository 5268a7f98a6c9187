/** Events built for tests that append to a store directly, without a decider. */
import { randomUUID } from 'node:crypto';
import type { NewEvent } from '../../engine/store/index.js';

/** A MessagePosted by alice with this text, in the current schema. */
export function posted(text: string): NewEvent {
  return {
    id: randomUUID(),
    type: 'MessagePosted',
    data: { messageId: randomUUID(), author: 'alice', text, format: 'plain' },
    metadata: { actor: 'alice', commandId: randomUUID(), correlationId: 'c', at: Date.now(), schemaVersion: 2 },
  };
}
