/**
 * Conversation events as clients and feed consumers see them. The log stores exactly
 * these; `schemaVersion` lets old events be upcast when a shape changes.
 */
import type { MessageFormat } from './commands.js';

export type ConversationEventData =
  | { type: 'ConversationCreated'; data: { title: string; createdBy: string; members: string[] } }
  | { type: 'MemberJoined'; data: { userId: string; addedBy: string } }
  | { type: 'MemberLeft'; data: { userId: string; removedBy: string } }
  | { type: 'MessagePosted'; data: { messageId: string; author: string; text: string; format: MessageFormat } }
  | { type: 'MessageDeleted'; data: { messageId: string; deletedBy: string } }
  | { type: 'ReactionAdded'; data: { messageId: string; userId: string; emoji: string } }
  | { type: 'ReactionRemoved'; data: { messageId: string; userId: string; emoji: string } }
  | { type: 'ReadMarkerSet'; data: { userId: string; seq: number } }
  /** A Yjs update to a message body (by its author): base64 update and the merged text. */
  | { type: 'MessageBodyEdited'; data: { messageId: string; update: string; text: string } }
  /** A Yjs update to the conversation's shared notes: base64 update and the merged text. */
  | { type: 'NotesUpdated'; data: { update: string; text: string } };

export type ConversationEventType = ConversationEventData['type'];

/** One event of a conversation, as delivered on the wire. */
export type WireEvent = ConversationEventData & {
  conversationId: string;
  /** Dense per-conversation sequence number: 1, 2, 3, … */
  seq: number;
  /** Monotonic position across the whole store. */
  position: number;
  id: string;
  actor: string;
  /** Milliseconds since the epoch, when the node appended it. */
  at: number;
  /** The command id that caused it. */
  commandId: string;
};
