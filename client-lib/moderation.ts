/**
 * Roles and moderation of one conversation (`room.moderation`): commands go through the
 * outbox like every other write (durable, retried, refused with a coded error when the
 * caller's role does not allow them); `view()` reads roles, mutes, bans and pins over HTTP.
 */
import type { Command, ModerationView, Role } from '../protocol/index.js';
import type { HttpApi } from './http.js';

export interface ModerationContext {
  http: HttpApi;
  enqueue(command: Command): Promise<string>;
}

export class ConversationModeration {
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

  /** Every member's role (and mute), the bans and the pinned message ids, as the node has them now. */
  view(): Promise<ModerationView> {
    return this.ctx.http.moderation(this.conversationId());
  }
}
