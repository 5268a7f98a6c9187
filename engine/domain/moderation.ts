/**
 * Roles and moderation in the conversation decider: the state they need, how events
 * change it, and the decisions of the moderation commands. The permission table itself is
 * in permissions.ts; conversation.ts asks `requireAllowed` before its own writes.
 */
import { ParleyError, type Command, type ConversationEventData, type Role } from '../../protocol/index.js';
import { isAllowed, mayGrant, outranks, type Action } from './permissions.js';

/** What of the conversation's state (conversation.ts, which imports this file) moderation reads. */
interface ConversationState {
  exists: boolean;
  createdBy: string;
  members: Set<string>;
  messages: Map<string, { deleted: boolean }>;
  moderation: ModerationState;
}

interface DecideContext {
  actor: string;
  now: number;
}

export interface ModerationState {
  /** Roles other than `member` (the default), of current members only. */
  roles: Map<string, Role>;
  /** Until when (ms since the epoch) each muted user may not post. */
  mutedUntil: Map<string, number>;
  banned: Set<string>;
  pinned: Set<string>;
  /** `${messageId}\u0000${userId}`: one report per user and message (the queue stays bounded). */
  reports: Set<string>;
  /** Messages with reports not yet resolved or dismissed. */
  openReports: Set<string>;
}

export function initialModeration(): ModerationState {
  return { roles: new Map(), mutedUntil: new Map(), banned: new Set(), pinned: new Set(), reports: new Set(), openReports: new Set() };
}

/** The user's role, or undefined when they are not a member. */
export function roleOf(state: Readonly<ConversationState>, userId: string): Role | undefined {
  if (!state.members.has(userId)) return undefined;
  return state.moderation.roles.get(userId) ?? 'member';
}

/** Whether the user may do this now (members only; not existing looks the same). */
export function can(state: Readonly<ConversationState>, userId: string, action: Action): boolean {
  return state.exists && isAllowed(roleOf(state, userId), action);
}

export function requireAllowed(state: Readonly<ConversationState>, actor: string, action: Action): void {
  if (!can(state, actor, action)) throw new ParleyError('forbidden');
}

/** Posting also needs the actor not to be muted at the command's time. */
export function requireMayPost(state: Readonly<ConversationState>, ctx: DecideContext): void {
  requireAllowed(state, ctx.actor, 'post');
  const until = state.moderation.mutedUntil.get(ctx.actor);
  if (until !== undefined && until > ctx.now) throw new ParleyError('muted', `You are muted until ${timeOf(until)}`);
}

/** A Date holds ±8.64e15 ms; a mute may be set later than that (any safe integer): it is "indefinitely" then. */
function timeOf(ms: number): string {
  return ms <= 8.64e15 ? new Date(ms).toISOString() : 'further notice';
}

/** Removing somebody else needs the permission and a higher rank; leaving is free, but not for the last owner. */
export function requireMayRemove(state: Readonly<ConversationState>, actor: string, userId: string): void {
  const target = roleOf(state, userId);
  if (userId !== actor) requireActOn(state, actor, 'removeOthers', target);
  if (!target) throw new ParleyError('not_member');
  if (userId === actor && isLastOwner(state, userId) && state.members.size > 1) throw new ParleyError('last_owner');
}

/** Adding a member needs `invite`, and the user not to be banned. */
export function requireMayAdd(state: Readonly<ConversationState>, actor: string, userId: string): void {
  requireAllowed(state, actor, 'invite');
  if (state.moderation.banned.has(userId)) throw new ParleyError('banned');
}

function requireActOn(state: Readonly<ConversationState>, actor: string, action: Action, target: Role | undefined): void {
  const mine = roleOf(state, actor)!;
  if (!isAllowed(mine, action) || (target !== undefined && !outranks(mine, target))) throw new ParleyError('forbidden');
}

function isLastOwner(state: Readonly<ConversationState>, userId: string): boolean {
  if (roleOf(state, userId) !== 'owner') return false;
  for (const [u, r] of state.moderation.roles) if (r === 'owner' && u !== userId) return false;
  return true;
}

type WithoutConversation<C> = C extends unknown ? Omit<C, 'conversationId'> : never;
type ModerationCommand = WithoutConversation<
  Extract<Command, { type: 'SetRole' | 'MuteMember' | 'BanMember' | 'UnbanMember' | 'ReportMessage' | 'PinMessage' | 'UnpinMessage' | 'ResolveReport' }>
>;

/** The moderation commands; the actor is a member (checked by the caller). */
export function decideModeration(command: ModerationCommand, state: ConversationState, ctx: DecideContext): ConversationEventData[] {
  const { actor } = ctx;
  const m = state.moderation;
  switch (command.type) {
    case 'SetRole': {
      const target = roleOf(state, command.userId);
      if (!target) {
        requireAllowed(state, actor, 'changeRoles');
        throw new ParleyError('not_member');
      }
      requireActOn(state, actor, 'changeRoles', target);
      if (!mayGrant(roleOf(state, actor)!, command.role)) throw new ParleyError('forbidden');
      if (target === command.role) return [];
      if (isLastOwner(state, command.userId)) throw new ParleyError('last_owner');
      return [{ type: 'RoleChanged', data: { userId: command.userId, role: command.role, changedBy: actor } }];
    }
    case 'MuteMember': {
      const target = roleOf(state, command.userId);
      requireActOn(state, actor, 'mute', target);
      if (!target) throw new ParleyError('not_member');
      if (command.userId === actor) throw new ParleyError('forbidden');
      return [{ type: 'MemberMuted', data: { userId: command.userId, until: command.until, mutedBy: actor } }];
    }
    case 'BanMember': {
      const target = roleOf(state, command.userId);
      requireActOn(state, actor, 'ban', target);
      if (command.userId === actor) throw new ParleyError('forbidden');
      const events: ConversationEventData[] = [];
      if (!m.banned.has(command.userId)) events.push({ type: 'MemberBanned', data: { userId: command.userId, bannedBy: actor } });
      // MemberLeft last: it is what ends the user's subscriptions and documents everywhere.
      if (target) events.push({ type: 'MemberLeft', data: { userId: command.userId, removedBy: actor } });
      return events;
    }
    case 'UnbanMember':
      requireAllowed(state, actor, 'ban');
      if (!m.banned.has(command.userId)) return [];
      return [{ type: 'MemberUnbanned', data: { userId: command.userId, unbannedBy: actor } }];
    case 'ReportMessage': {
      requireAllowed(state, actor, 'report');
      liveMessageOf(state, command.messageId);
      if (m.reports.has(reportKey(command.messageId, actor))) return [];
      return [{ type: 'MessageReported', data: { messageId: command.messageId, reportedBy: actor, reason: command.reason } }];
    }
    case 'PinMessage':
      requireAllowed(state, actor, 'pin');
      liveMessageOf(state, command.messageId);
      if (m.pinned.has(command.messageId)) return [];
      return [{ type: 'MessagePinned', data: { messageId: command.messageId, pinnedBy: actor } }];
    case 'UnpinMessage':
      requireAllowed(state, actor, 'pin');
      if (!state.messages.has(command.messageId)) throw new ParleyError('message_not_found');
      if (!m.pinned.has(command.messageId)) return [];
      return [{ type: 'MessageUnpinned', data: { messageId: command.messageId, unpinnedBy: actor } }];
    case 'ResolveReport':
      // A deleted message's reports can still be closed: deleting it is a common resolution.
      requireAllowed(state, actor, 'resolveReports');
      if (!state.messages.has(command.messageId)) throw new ParleyError('message_not_found');
      if (!m.openReports.has(command.messageId)) return [];
      return [{ type: 'ReportResolved', data: { messageId: command.messageId, outcome: command.outcome, resolvedBy: actor } }];
  }
}

/** What events mean for roles and moderation; called by `evolve` for every event. */
export function evolveModeration(state: ConversationState, event: ConversationEventData): void {
  const m = state.moderation;
  switch (event.type) {
    case 'ConversationCreated':
      m.roles.set(event.data.createdBy, 'owner');
      break;
    case 'MemberJoined':
      // Only logs from before roles can have an ownerless conversation (its creator left):
      // the creator rejoining had their rights back then, so they get them back here too.
      if (event.data.userId === state.createdBy && ![...m.roles.values()].includes('owner')) m.roles.set(event.data.userId, 'owner');
      break;
    case 'MemberLeft':
      m.roles.delete(event.data.userId);
      m.mutedUntil.delete(event.data.userId);
      break;
    case 'MessageDeleted':
      m.pinned.delete(event.data.messageId);
      break;
    case 'RoleChanged':
      if (event.data.role === 'member') m.roles.delete(event.data.userId);
      else m.roles.set(event.data.userId, event.data.role);
      break;
    case 'MemberMuted':
      m.mutedUntil.set(event.data.userId, event.data.until);
      break;
    case 'MemberBanned':
      m.banned.add(event.data.userId);
      break;
    case 'MemberUnbanned':
      m.banned.delete(event.data.userId);
      break;
    case 'MessageReported':
      m.reports.add(reportKey(event.data.messageId, event.data.reportedBy));
      m.openReports.add(event.data.messageId);
      break;
    case 'ReportResolved':
      m.openReports.delete(event.data.messageId);
      break;
    case 'MessagePinned':
      m.pinned.add(event.data.messageId);
      break;
    case 'MessageUnpinned':
      m.pinned.delete(event.data.messageId);
      break;
    default:
      break;
  }
}

function liveMessageOf(state: Readonly<ConversationState>, messageId: string): void {
  const message = state.messages.get(messageId);
  if (!message) throw new ParleyError('message_not_found');
  if (message.deleted) throw new ParleyError('message_deleted');
}

function reportKey(messageId: string, userId: string): string {
  return `${messageId}\u0000${userId}`;
}
