/**
 * The HTTP shapes of threads and mentions: a thread's page of replies, the caller's
 * followed threads and their mentions feed. Commands (reply = PostMessage with
 * `threadRootId`, FollowThread, UnfollowThread, MarkThreadRead, MarkMentionsRead) are in
 * commands.ts like every other.
 */
import { Type } from '@sinclair/typebox';
import { HistoryMessage } from './http.js';
import { Id, IsoTime, MAX_INTEGER, Seq, Strict } from './primitives.js';

export const ThreadParams = Type.Object({ id: Id, rootId: Id });

export const ThreadQueries = {
  replies: Strict({
    after: Type.Optional(Seq),
    before: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_INTEGER })),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  }),
  threads: Strict({ limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }) }),
  mentions: Strict({
    /** The page before this mention (its `position`), newest first. */
    before: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_INTEGER })),
    limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
  }),
} as const;

export const ThreadRequests = {
  markThreadRead: Strict({ seq: Seq, commandId: Type.Optional(Id) }),
  markMentionsRead: Strict({ seq: Seq, commandId: Type.Optional(Id) }),
} as const;

/** One followed thread of `GET /v1/threads`. */
export const ThreadListEntry = Type.Object({
  conversationId: Type.String(),
  threadRootId: Type.String(),
  /** The root message (deleted roots keep their place with empty text). */
  root: Type.Union([HistoryMessage, Type.Null()]),
  replyCount: Type.Integer({ minimum: 0 }),
  lastReply: Type.Union([Type.Object({ seq: Seq, author: Type.String(), sentAt: IsoTime }), Type.Null()]),
  readSeq: Seq,
  /** Replies by others after `readSeq` that are not deleted. */
  unread: Type.Integer({ minimum: 0 }),
});

/** One entry of `GET /v1/mentions`. */
export const Mention = Type.Object({
  /** Where the feed is: page with `before=position`. */
  position: Type.Integer({ minimum: 1 }),
  conversationId: Type.String(),
  seq: Seq,
  messageId: Type.String(),
  author: Type.String(),
  text: Type.String(),
  sentAt: IsoTime,
  threadRootId: Type.Union([Type.String(), Type.Null()]),
  /** At or below the caller's mentions read marker of its conversation. */
  read: Type.Boolean(),
});

export const ThreadResponses = {
  replies: Type.Object({ root: Type.Union([HistoryMessage, Type.Null()]), messages: Type.Array(HistoryMessage) }),
  threads: Type.Object({ threads: Type.Array(ThreadListEntry) }),
  mentions: Type.Object({ mentions: Type.Array(Mention), unread: Type.Integer({ minimum: 0 }) }),
} as const;
