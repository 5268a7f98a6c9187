/**
 * Conversation events as clients and feed consumers see them. The log stores exactly
 * these; `schemaVersion` lets old events be upcast when a shape changes. Defined once,
 * as schemas, in schema/events.ts; these are their types.
 */
import type { Static } from '@sinclair/typebox';
import type * as S from './schema/index.js';

export type ConversationEventData = Static<typeof S.ConversationEvent>;

export type ConversationEventType = ConversationEventData['type'];

/** Every event type the log holds, with its data (conversation, user and node streams). */
export type EventCatalogue = { [K in keyof typeof S.Events]: Static<(typeof S.Events)[K]>['data'] };
export type EventType = keyof EventCatalogue;
/** An event of one of the given types, as `{ type, data }`, narrowed by `switch (e.type)`. */
export type KnownEvent<T extends EventType = EventType> = { [K in T]: { type: K; data: EventCatalogue[K] } }[T];

/** One event of a conversation, as delivered on the wire. */
export type WireEvent = Static<typeof S.WireEvent>;
