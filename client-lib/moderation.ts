/**
 * Roles and moderation of one conversation (`room.moderation`): commands go through the
 * outbox like every other write (durable, retried, refused with a coded error when the
 * caller's role does not allow them); `view()` reads roles, mutes, bans and pins over HTTP.
 */
import type { Command, ModerationQueue, ModerationView, ReportOutcome, ReportStatus, Role, WireEvent } from '../protocol/index.js';
import type { HttpApi } from './http.js';
import { Signal } from './observable.js';

/** The events after which `view()` or `reports()` answer differently. */
const MODERATION_EVENTS: ReadonlySet<string> = new Set([
  'ConversationCreated', 'MemberJoined', 'MemberLeft', 'RoleChanged', 'MemberMuted', 'MemberBanned', 'MemberUnbanned',
  'MessagePinned', 'MessageUnpinned', 'MessageDeleted', 'MessageReported', 'ReportResolved',
]);

export interface ModerationContext {
  http: HttpApi;
  enqueue(command: Command): Promise<string>;
}

export class ConversationModeration {
  /**
   * Each event that changes roles, mutes, bans, membership, pins or reports, as it arrives
   * live or in a catch-up: a view re-reads `view()` (or `reports()`) on it. A `MemberLeft`
   * of this user means they are no longer a member (left, removed or banned).
   */
  readonly changes = new Signal<WireEvent>();

  /** `conversationId` is read at each call: a conversation created offline gets its server id later. */
  constructor(
    private readonly conversationId: () => string,
    private readonly ctx: ModerationContext,
  ) {}

  /** Owners give any role; admins make members and guests (guests only read). */
  setRole(userId: string, role: Role): Promise<string> {
    return this.ctx.enqueue({ type: 'SetRole', conversationId: this.conversationId(), userId, role });
  }

  /** The user cannot post until `until` (a Date or ms since the epoch); a past time unmutes. */
  mute(userId: string, until: Date | number): Promise<string> {
    return this.ctx.enqueue({ type: 'MuteMember', conversationId: this.conversationId(), userId, until: +until });
  }

  unmute(userId: string): Promise<string> {
    return this.mute(userId, 0);
  }

  /** Removes the user now and keeps them out until unbanned. */
  ban(userId: string): Promise<string> {
    return this.ctx.enqueue({ type: 'BanMember', conversationId: this.conversationId(), userId });
  }

  unban(userId: string): Promise<string> {
    return this.ctx.enqueue({ type: 'UnbanMember', conversationId: this.conversationId(), userId });
  }

  /** Reports a message to the node's moderators (once per user and message). */
  report(messageId: string, reason: string): Promise<string> {
    return this.ctx.enqueue({ type: 'ReportMessage', conversationId: this.conversationId(), messageId, reason });
  }

  pin(messageId: string): Promise<string> {
    return this.ctx.enqueue({ type: 'PinMessage', conversationId: this.conversationId(), messageId });
  }

  unpin(messageId: string): Promise<string> {
    return this.ctx.enqueue({ type: 'UnpinMessage', conversationId: this.conversationId(), messageId });
  }

  /** Closes every open report of the message: `resolved` (acted on) or `dismissed` (owners and admins). */
  resolveReport(messageId: string, outcome: ReportOutcome = 'resolved'): Promise<string> {
    return this.ctx.enqueue({ type: 'ResolveReport', conversationId: this.conversationId(), messageId, outcome });
  }

  /** A page of this conversation's reports, open ones unless asked otherwise (owners and admins). */
  reports(page: { status?: ReportStatus; after?: number; limit?: number } = {}): Promise<ModerationQueue> {
    return this.ctx.http.reports(this.conversationId(), page);
  }

  /** @internal Called by the conversation with each new event. */
  observe(e: WireEvent): void {
    if (MODERATION_EVENTS.has(e.type)) this.changes.emit(e);
  }

  /** Every member's role (and mute), the bans and the pinned message ids, as the node has them now. */
  view(): Promise<ModerationView> {
    return this.ctx.http.moderation(this.conversationId());
  }
}
