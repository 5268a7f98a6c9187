/**
 * Commands: what a client asks the node to do. The same shapes travel in HTTP bodies
 * (with the conversation id from the path) and in WebSocket `command` frames.
 *
 * Adding a command: its schema here (and in `Commands`), a case in the decider
 * (engine/domain/conversation.ts) and in the handler's mapping; the compiler points at
 * each place through the `Command` union.
 */
import { Type } from '@sinclair/typebox';
import { AttachmentIds } from './attachments.js';
import { Emoji, Id, MessageFormat, Seq, Strict, Text, Title } from './primitives.js';
import { ModerationCommands } from './moderation.js';
import { RetentionCommands } from './retention.js';

export const Commands = {
  CreateConversation: Strict({ type: Type.Literal('CreateConversation'), title: Title, members: Type.Array(Id, { maxItems: 1000 }) }),
  AddMember: Strict({ type: Type.Literal('AddMember'), conversationId: Id, userId: Id }),
  RemoveMember: Strict({ type: Type.Literal('RemoveMember'), conversationId: Id, userId: Id }),
  PostMessage: Strict({
    type: Type.Literal('PostMessage'),
    conversationId: Id,
    text: Text,
    format: Type.Optional(MessageFormat),
    /** Reply in the thread of this message (a reply's id means its root's thread). */
    threadRootId: Type.Optional(Id),
    attachments: Type.Optional(AttachmentIds),
  }),
  DeleteMessage: Strict({ type: Type.Literal('DeleteMessage'), conversationId: Id, messageId: Id }),
  AddReaction: Strict({ type: Type.Literal('AddReaction'), conversationId: Id, messageId: Id, emoji: Emoji }),
  RemoveReaction: Strict({ type: Type.Literal('RemoveReaction'), conversationId: Id, messageId: Id, emoji: Emoji }),
  MarkRead: Strict({ type: Type.Literal('MarkRead'), conversationId: Id, seq: Seq }),
  ...ModerationCommands,
  ...RetentionCommands,
  FollowThread: Strict({ type: Type.Literal('FollowThread'), conversationId: Id, threadRootId: Id }),
  UnfollowThread: Strict({ type: Type.Literal('UnfollowThread'), conversationId: Id, threadRootId: Id }),
  MarkThreadRead: Strict({ type: Type.Literal('MarkThreadRead'), conversationId: Id, threadRootId: Id, seq: Seq }),
  MarkMentionsRead: Strict({ type: Type.Literal('MarkMentionsRead'), conversationId: Id, seq: Seq }),
} as const;

export const Command = Type.Union(Object.values(Commands) as Array<(typeof Commands)[keyof typeof Commands]>);

/** What an acknowledged command returns. `seq` is the conversation's version after it. */
export const CommandResult = Type.Object({
  conversationId: Id,
  seq: Seq,
  messageId: Type.Optional(Id),
});
