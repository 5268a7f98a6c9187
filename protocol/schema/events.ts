/**
 * Conversation events as clients and feed consumers see them. The log stores exactly
 * these; `schemaVersion` lets old events be upcast when a shape changes.
 */
import { Type } from '@sinclair/typebox';
import { EpochMs, MessageFormat, Seq } from './primitives.js';

// Ids in events are described, not bounded: what a node wrote is what readers get.
const Str = Type.String();

const event = <T extends string, D extends ReturnType<typeof Type.Object>>(type: T, data: D) =>
  Type.Object({ type: Type.Literal(type), data });

/** Each conversation event type with its data: the catalogue clients see on the wire. */
export const ConversationEvents = {
  ConversationCreated: event('ConversationCreated', Type.Object({ title: Type.String(), createdBy: Str, members: Type.Array(Str) })),
  MemberJoined: event('MemberJoined', Type.Object({ userId: Str, addedBy: Str })),
  MemberLeft: event('MemberLeft', Type.Object({ userId: Str, removedBy: Str })),
  MessagePosted: event('MessagePosted', Type.Object({ messageId: Str, author: Str, text: Type.String(), format: MessageFormat })),
  MessageDeleted: event('MessageDeleted', Type.Object({ messageId: Str, deletedBy: Str })),
  ReactionAdded: event('ReactionAdded', Type.Object({ messageId: Str, userId: Str, emoji: Type.String() })),
  ReactionRemoved: event('ReactionRemoved', Type.Object({ messageId: Str, userId: Str, emoji: Type.String() })),
  ReadMarkerSet: event('ReadMarkerSet', Type.Object({ userId: Str, seq: Seq })),
  /** A Yjs update to a message body (by its author): base64 update and the merged text. */
  MessageBodyEdited: event('MessageBodyEdited', Type.Object({ messageId: Str, update: Type.String(), text: Type.String() })),
  /** A Yjs update to the conversation's shared notes: base64 update and the merged text. */
  NotesUpdated: event('NotesUpdated', Type.Object({ update: Type.String(), text: Type.String() })),
} as const;

export const ConversationEvent = Type.Union(Object.values(ConversationEvents) as Array<(typeof ConversationEvents)[keyof typeof ConversationEvents]>);

/** Where and when an event happened, as delivered on the wire beside its type and data. */
export const WireEventEnvelope = Type.Object({
  conversationId: Str,
  /** Dense per-conversation sequence number: 1, 2, 3, … */
  seq: Type.Integer({ minimum: 1 }),
  /** Monotonic position across the whole store. */
  position: Type.Integer({ minimum: 1 }),
  id: Type.String(),
  actor: Type.String(),
  /** When the node appended it. */
  at: EpochMs,
  /** The command id that caused it. */
  commandId: Type.String(),
});

/** One event of a conversation, as delivered on the wire. */
export const WireEvent = Type.Intersect([ConversationEvent, WireEventEnvelope]);
