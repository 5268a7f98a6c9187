/**
 * The HTTP API's bodies: what each route takes (bodies, query strings, path parameters)
 * and what it answers. Routes validate with these and the OpenAPI document at
 * `/docs/json` is generated from them.
 */
import { Type } from '@sinclair/typebox';
import { AttachmentIds, AttachmentRef } from './attachments.js';
import { Emoji, EpochMs, Id, IsoTime, MAX_INTEGER, MessageFormat, Seq, Strict, Text, Title } from './primitives.js';

/** Where a reader is in the log: a position on an unpartitioned log, a cursor token (`c1.…`) on a partitioned one. */
const LogPoint = Type.Union([Type.Integer(), Type.String({ maxLength: 2048 })]);

/** Every write takes an optional client-chosen command id (or an Idempotency-Key header). */
const commandId = Type.Optional(Id);

export const Requests = {
  createConversation: Strict({ title: Title, members: Type.Array(Id, { maxItems: 1000 }), commandId }),
  addMember: Strict({ userId: Id, commandId }),
  postMessage: Strict({
    clientMessageId: Id,
    text: Text,
    format: Type.Optional(MessageFormat),
    threadRootId: Type.Optional(Id),
    attachments: Type.Optional(AttachmentIds),
  }),
  reaction: Strict({ emoji: Emoji, commandId }),
  markRead: Strict({ seq: Seq, commandId }),
  skip: Strict({ position: Type.Integer({ minimum: 1, maximum: MAX_INTEGER }), reason: Type.Optional(Type.String({ maxLength: 500 })) }),
} as const;

// Path parameters are bounded by the router (100 characters); `id` alone is checked here
// where the routes always did, so a request answers as it always has.
const param = Type.String();
export const Params = {
  conversation: Type.Object({ id: Id }),
  member: Type.Object({ id: param, userId: param }),
  message: Type.Object({ id: param, messageId: param }),
  reaction: Type.Object({ id: param, messageId: param, emoji: param }),
  projection: Type.Object({ name: param }),
} as const;

export const Queries = {
  messages: Strict({
    after: Type.Optional(Seq),
    before: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_INTEGER })),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  }),
  search: Strict({
    q: Type.String({ minLength: 1, maxLength: 500 }),
    conversation: Type.Optional(Type.String({ maxLength: 200 })),
    limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
  }),
  feed: Strict({
    from: Type.String({
      // A log cursor token: the plain position on an unpartitioned log, `c1.…` on a partitioned one.
      pattern: '^([0-9]{1,16}|c1\\.[A-Za-z0-9_-]{1,2040})$',
      default: '0',
      description: 'Resume after this log cursor: the `position` (one partition) or the `cursor` of the last event read; 0 = the start',
    }),
    conversation: Type.Optional(Type.String({ maxLength: 200 })),
    types: Type.Optional(Type.String({ maxLength: 2000 })),
    follow: Type.Boolean({ default: false }),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_INTEGER })),
  }),
  analytics: Strict({
    from: Type.Optional(Type.String({ maxLength: 40, description: 'ISO 8601 time' })),
    to: Type.Optional(Type.String({ maxLength: 40, description: 'ISO 8601 time' })),
    conversation: Type.Optional(Type.String({ maxLength: 200 })),
  }),
} as const;

const LastMessage = Type.Object({ seq: Seq, messageId: Type.String(), author: Type.String(), text: Type.String(), sentAt: IsoTime });

/** One entry of `GET /v1/conversations`. */
export const ConversationSummary = Type.Object({
  id: Type.String(),
  title: Type.String(),
  createdBy: Type.String(),
  createdAt: IsoTime,
  members: Type.Array(Type.String()),
  /** The seq of the conversation's newest event. */
  lastSeq: Seq,
  lastMessage: Type.Union([LastMessage, Type.Null()]),
  readSeq: Seq,
  /** Messages by others after `readSeq` that are not deleted. */
  unread: Type.Integer({ minimum: 0 }),
  /** Seconds after which message content expires (SetRetention); null keeps it forever. The node always sends it. */
  retentionSeconds: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
});

/** One message of `GET /v1/conversations/:id/messages`. */
export const HistoryMessage = Type.Object({
  seq: Seq,
  messageId: Type.String(),
  author: Type.String(),
  text: Type.String(),
  format: MessageFormat,
  sentAt: IsoTime,
  /** emoji → user ids, in the order they reacted */
  reactions: Type.Record(Type.String(), Type.Array(Type.String())),
  deleted: Type.Boolean(),
  /** The content was erased by its author or expired (retention): text empty, no attachments. */
  redacted: Type.Optional(Type.Literal(true)),
  /** A thread reply: its root's message id (thread pages only; the conversation's pages hold no replies). */
  threadRootId: Type.Optional(Type.String()),
  /** On a message that has replies: how many (not deleted) and the newest one. */
  thread: Type.Optional(ThreadSummary()),
  /** Files attached when it was posted (absent when none, or once deleted). */
  attachments: Type.Optional(Type.Array(AttachmentRef)),
});

/** A root message's replies at a glance (threads.ts in projections/ computes it). */
function ThreadSummary() {
  return Type.Object({
    replyCount: Type.Integer({ minimum: 0 }),
    lastReply: Type.Union([Type.Object({ seq: Seq, author: Type.String(), sentAt: IsoTime }), Type.Null()]),
  });
}

export const PresenceView = Type.Object({
  userId: Type.String(),
  online: Type.Boolean(),
  /** When the user was last connected; null while online or if never seen. */
  lastSeen: Type.Union([EpochMs, Type.Null()]),
});

export const SearchHit = Type.Object({
  conversationId: Type.String(),
  seq: Seq,
  messageId: Type.String(),
  author: Type.String(),
  sentAt: IsoTime,
  /** The text with matches wrapped in [ and ]. */
  snippet: Type.String(),
});

export const AnalyticsReport = Type.Object({
  messagesPerHour: Type.Array(Type.Object({ conversationId: Type.String(), hour: IsoTime, count: Type.Integer() })),
  /** Users who did anything in any conversation that day (not narrowed by a conversation filter). */
  activeUsersPerDay: Type.Array(Type.Object({ day: Type.String(), users: Type.Integer() })),
  medianTimeToFirstReplySeconds: Type.Union([Type.Number(), Type.Null()]),
  replies: Type.Integer(),
  reactionsByEmoji: Type.Array(Type.Object({ emoji: Type.String(), count: Type.Integer() })),
});

const ProjectionFailure = Type.Object(
  {
    position: Type.Integer(),
    eventType: Type.Union([Type.String(), Type.Null()]),
    stream: Type.Union([Type.String(), Type.Null()]),
    error: Type.String(),
    code: Type.Union([Type.String(), Type.Null()]),
    since: EpochMs,
    attempts: Type.Integer(),
    nextRetryAt: Type.Union([EpochMs, Type.Null()]),
  },
  { additionalProperties: true },
);

const ProjectionStatus = Type.Object(
  {
    state: Type.Union([Type.Literal('running'), Type.Literal('failed'), Type.Literal('rebuilding')]),
    failure: Type.Union([ProjectionFailure, Type.Null()]),
    skipped: Type.Array(Type.Integer()),
  },
  { additionalProperties: true },
);

export const Responses = {
  created: Type.Object({ id: Type.String(), seq: Seq }),
  conversations: Type.Object({ conversations: Type.Array(ConversationSummary) }),
  messages: Type.Object({ messages: Type.Array(HistoryMessage) }),
  presence: Type.Object({ members: Type.Array(PresenceView) }),
  search: Type.Object({ hits: Type.Array(SearchHit) }),
  health: Type.Object({ status: Type.Literal('ok'), nodeId: Type.String(), store: Type.String() }),
  /** `/ready`: 200 with `ready`, or 503 with `not_ready` and the checks that failed in `failed`. */
  ready: Type.Object({
    status: Type.Union([Type.Literal('ready'), Type.Literal('not_ready')]),
    nodeId: Type.String(),
    failed: Type.Array(Type.Union([Type.Literal('store'), Type.Literal('read_models'), Type.Literal('draining')])),
    store: Type.Object({ ok: Type.Boolean(), error: Type.Optional(Type.String()) }),
    readModels: Type.Object({
      ok: Type.Boolean(),
      lag: Type.Integer(),
      maxLag: Type.Integer(),
      behind: Type.Array(Type.String()),
      stopped: Type.Array(Type.String()),
    }),
    draining: Type.Boolean(),
  }),
  analytics: AnalyticsReport,
  projections: Type.Object({
    head: LogPoint,
    projections: Type.Array(
      Type.Composite([Type.Object({ name: Type.String(), version: Type.Optional(Type.Integer()), checkpoint: LogPoint, lag: Type.Integer() }), ProjectionStatus], {
        additionalProperties: true,
      }),
    ),
  }),
  skip: Type.Object({
    projection: Type.String(),
    position: Type.Integer(),
    reason: Type.String(),
    at: EpochMs,
    status: Type.Optional(ProjectionStatus),
  }),
  rebuilt: Type.Object({ name: Type.String(), checkpoint: LogPoint, seconds: Type.Number() }),
} as const;
