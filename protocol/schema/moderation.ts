/**
 * Roles and moderation (issue 15): the commands, events and HTTP bodies, kept apart from
 * the central catalogues, which spread these in at their ends.
 */
import { Type } from '@sinclair/typebox';
import { EpochMs, Id, Strict } from './primitives.js';

/** A member's role in one conversation; a guest reads but does not write. */
export const Role = Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member'), Type.Literal('guest')]);
/** Why a message was reported: free text, bounded. */
export const ReportReason = Type.String({ minLength: 1, maxLength: 1000 });
/** How a moderator closed a message's reports: acted on (`resolved`) or found groundless (`dismissed`). */
export const ReportOutcome = Type.Union([Type.Literal('resolved'), Type.Literal('dismissed')]);

export const ModerationCommands = {
  SetRole: Strict({ type: Type.Literal('SetRole'), conversationId: Id, userId: Id, role: Role }),
  /** The user cannot post until `until` (ms since the epoch); a time in the past unmutes. */
  MuteMember: Strict({ type: Type.Literal('MuteMember'), conversationId: Id, userId: Id, until: EpochMs }),
  /** Removes the user (if a member) and keeps them from being added until unbanned. */
  BanMember: Strict({ type: Type.Literal('BanMember'), conversationId: Id, userId: Id }),
  UnbanMember: Strict({ type: Type.Literal('UnbanMember'), conversationId: Id, userId: Id }),
  ReportMessage: Strict({ type: Type.Literal('ReportMessage'), conversationId: Id, messageId: Id, reason: ReportReason }),
  PinMessage: Strict({ type: Type.Literal('PinMessage'), conversationId: Id, messageId: Id }),
  UnpinMessage: Strict({ type: Type.Literal('UnpinMessage'), conversationId: Id, messageId: Id }),
  /** Closes every open report of the message (owners and admins). */
  ResolveReport: Strict({ type: Type.Literal('ResolveReport'), conversationId: Id, messageId: Id, outcome: ReportOutcome }),
} as const;

// Ids in events are described, not bounded: what a node wrote is what readers get.
const Str = Type.String();
const event = <T extends string, D extends ReturnType<typeof Type.Object>>(type: T, data: D) =>
  Type.Object({ type: Type.Literal(type), data });

export const ModerationEvents = {
  RoleChanged: event('RoleChanged', Type.Object({ userId: Str, role: Role, changedBy: Str })),
  MemberMuted: event('MemberMuted', Type.Object({ userId: Str, until: EpochMs, mutedBy: Str })),
  /** Followed, in the same append, by the user's MemberLeft when they were a member. */
  MemberBanned: event('MemberBanned', Type.Object({ userId: Str, bannedBy: Str })),
  MemberUnbanned: event('MemberUnbanned', Type.Object({ userId: Str, unbannedBy: Str })),
  MessageReported: event('MessageReported', Type.Object({ messageId: Str, reportedBy: Str, reason: Type.String() })),
  MessagePinned: event('MessagePinned', Type.Object({ messageId: Str, pinnedBy: Str })),
  MessageUnpinned: event('MessageUnpinned', Type.Object({ messageId: Str, unpinnedBy: Str })),
  /** Every report of the message made before it is closed; a later report opens it again. */
  ReportResolved: event('ReportResolved', Type.Object({ messageId: Str, outcome: ReportOutcome, resolvedBy: Str })),
} as const;

/** Every write takes an optional client-chosen command id (or an Idempotency-Key header). */
const commandId = Type.Optional(Id);

export const ModerationRequests = {
  setRole: Strict({ role: Role, commandId }),
  mute: Strict({ until: EpochMs, commandId }),
  report: Strict({ reason: ReportReason, commandId }),
  resolve: Strict({ outcome: ReportOutcome, commandId }),
} as const;

/** One entry of the node's moderation queue (`GET /v1/admin/moderation-queue`). */
export const ReportEntry = Type.Object({
  position: Type.Integer({ minimum: 1 }),
  conversationId: Type.String(),
  messageId: Type.String(),
  reportedBy: Type.String(),
  reason: Type.String(),
  reportedAt: Type.String({ format: 'date-time' }),
  /** The message's author and text now (empty once deleted). */
  author: Type.String(),
  text: Type.String(),
  deleted: Type.Boolean(),
  /** Set once a moderator resolved or dismissed the message's reports. */
  resolution: Type.Optional(Type.Object({ outcome: ReportOutcome, resolvedBy: Type.String(), resolvedAt: Type.String({ format: 'date-time' }) })),
});

export const ModerationQueue = Type.Object({ reports: Type.Array(ReportEntry), nextAfter: Type.Union([Type.Integer(), Type.Null()]) });

/** Which reports a queue lists: `open` (not yet resolved), `resolved` (resolved or dismissed) or `all`. */
export const ReportStatus = Type.Union([Type.Literal('open'), Type.Literal('resolved'), Type.Literal('all')]);
const page = {
  after: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0 }),
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
};

export const ModerationQueueQuery = Strict({
  ...page,
  conversation: Type.Optional(Type.String({ maxLength: 200 })),
  status: Type.Optional(ReportStatus),
});

/** `GET /v1/conversations/:id/reports`: one conversation's reports, for its owners and admins (open by default). */
export const ConversationReportsQuery = Strict({ ...page, status: Type.Optional(ReportStatus) });

/** `GET /v1/conversations/:id/moderation`: every member's role (and mute), the bans and the pins. */
export const ModerationView = Type.Object({
  members: Type.Array(Type.Object({ userId: Type.String(), role: Role, mutedUntil: Type.Optional(EpochMs) })),
  banned: Type.Array(Type.String()),
  pinned: Type.Array(Type.String()),
});

export const ModerationParams = {
  member: Type.Object({ id: Id, userId: Type.String() }),
  message: Type.Object({ id: Id, messageId: Type.String() }),
} as const;
