/**
 * Conversation events as clients and feed consumers see them. The log stores exactly
 * these; `schemaVersion` lets old events be upcast when a shape changes. Defined once,
 * as schemas, in schema/events.ts; these are their types.
 */
import type { Static } from '@sinclair/typebox';
import type * as S from './schema/index.js';

export type ConversationEventData = Static<typeof S.ConversationEvent>;

export type ConversationEventType = ConversationEventData['type'];

/** One event of a conversation, as delivered on the wire. */
export type WireEvent = Static<typeof S.WireEvent>;
