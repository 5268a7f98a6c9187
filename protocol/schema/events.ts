/**
 * Conversation events as clients and feed consumers see them. The log stores exactly
 * these; `schemaVersion` lets old events be upcast when a shape changes.
 */
import { Type } from '@sinclair/typebox';
import { AttachmentDiscardedData, AttachmentRef, AttachmentUploadedData } from './attachments.js';
import { EpochMs, MessageFormat, Seq } from './primitives.js';
import { WebhookEvents } from './webhook-events.js';
import { ModerationEvents } from './moderation.js';
import { Redacted, RetentionEvents } from './retention.js';

// Ids in events are described, not bounded: what a node wrote is what readers get.
const Str = Type.String();

const event = <T extends string, D extends ReturnType<typeof Type.Object>>(type: T, data: D) =>
  Type.Object({ type: Type.Literal(type), data });

/** Each conversation event type with its data: the catalogue clients see on the wire. */
export const ConversationEvents = {
  ConversationCreated: event('ConversationCreated', Type.Object({ title: Type.String(), createdBy: Str, members: Type.Array(Str) })),
  MemberJoined: event('MemberJoined', Type.Object({ userId: Str, addedBy: Str })),
  MemberLeft: event('MemberLeft', Type.Object({ userId: Str, removedBy: Str })),
  MessagePosted: event(
    'MessagePosted',
    Type.Object({
      messageId: Str,
      author: Str,
      text: Type.String(),
      format: MessageFormat,
      /** A thread reply: the root message's id and author (absent on top-level messages). */
      threadRootId: Type.Optional(Str),
      threadRootAuthor: Type.Optional(Str),
      /** Members named as `@userId` in the text when it was posted (absent when none). */
      mentions: Type.Optional(Type.Array(Str)),
      /** Files attached when it was posted (absent when none). */
      attachments: Type.Optional(Type.Array(AttachmentRef)),
      /** The content was erased or expired (retention.ts): text empty, mentions and attachments gone. */
      redacted: Redacted,
    }),
  ),
  MessageDeleted: event('MessageDeleted', Type.Object({ messageId: Str, deletedBy: Str })),
  ReactionAdded: event('ReactionAdded', Type.Object({ messageId: Str, userId: Str, emoji: Type.String() })),
  ReactionRemoved: event('ReactionRemoved', Type.Object({ messageId: Str, userId: Str, emoji: Type.String() })),
  ReadMarkerSet: event('ReadMarkerSet', Type.Object({ userId: Str, seq: Seq })),
  /** A Yjs update to a message body (by its author): base64 update and the merged text. */
  MessageBodyEdited: event('MessageBodyEdited', Type.Object({ messageId: Str, update: Type.String(), text: Type.String(), redacted: Redacted })),
  /** A Yjs update to the conversation's shared notes: base64 update and the merged text. */
  NotesUpdated: event('NotesUpdated', Type.Object({ update: Type.String(), text: Type.String() })),
  ...ModerationEvents,
  /** The user follows a thread (lists it with its unread count); replying follows too. */
  ThreadFollowed: event('ThreadFollowed', Type.Object({ threadRootId: Str, userId: Str })),
  ThreadUnfollowed: event('ThreadUnfollowed', Type.Object({ threadRootId: Str, userId: Str })),
  /** The user read a thread's replies up to `seq`. */
  ThreadReadMarkerSet: event('ThreadReadMarkerSet', Type.Object({ threadRootId: Str, userId: Str, seq: Seq })),
  /** The user read their mentions in this conversation up to `seq`. */
  MentionsReadMarkerSet: event('MentionsReadMarkerSet', Type.Object({ userId: Str, seq: Seq })),
  /** A file stored for the conversation by a member (attachments); attached later by PostMessage. */
  AttachmentUploaded: event('AttachmentUploaded', AttachmentUploadedData),
  /** An upload never attached within the orphan period, collected (attachments). */
  AttachmentDiscarded: event('AttachmentDiscarded', AttachmentDiscardedData),
  ...RetentionEvents,
} as const;

/** Events of a user's stream (`user-<id>`) and a node's (`node-<id>`): presence and drafts. */
export const UserAndNodeEvents = {
  /** A user's first connection to a node. */
  UserOnline: event('UserOnline', Type.Object({ userId: Str, nodeId: Str })),
  /** A user's last disconnection from a node. */
  UserOffline: event('UserOffline', Type.Object({ userId: Str, nodeId: Str })),
  /** A Yjs update to the user's private draft of a conversation: base64 update and the merged text. */
  DraftUpdated: event('DraftUpdated', Type.Object({ conversationId: Str, update: Type.String(), text: Type.String() })),
  /** The node (re)started: sessions it held before are gone. */
  NodeStarted: event('NodeStarted', Type.Object({ nodeId: Str })),
  /** Cluster only: a surviving node saw this node's heartbeats stop, so its sessions are gone. */
  NodeExpired: event('NodeExpired', Type.Object({ nodeId: Str, lastHeardAt: EpochMs, reportedBy: Str })),
  /** Cluster only: the expired node is back (its heartbeats resumed); its sessions count again. */
  NodeResumed: event('NodeResumed', Type.Object({ nodeId: Str })),
} as const;

/** Every event type the log holds, with its data: the one catalogue (EVENTS.md explains it). */
export const Events = { ...ConversationEvents, ...UserAndNodeEvents, ...WebhookEvents } as const;

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
