/**
 * Roles and moderation of the open conversation, as the page needs them: the node's view
 * (every member's role and mute, the bans, the pins), read again after each event that
 * changes it (`room.moderation.changes`), and what this user's role lets the page offer.
 * The node decides every command again; this only keeps the page from offering what it
 * would refuse. This and moderation-view.ts load as one lazy chunk with the first open
 * conversation (moderation-ui.ts), which keeps the shell in its size budget. The rank rule mirrors the node's permission table (a member cannot
 * outrank anyone, admins act on members and guests, owners on everybody).
 */
import { Value, type Conversation, type ModerationView, type Observable, type Role } from '../client-lib/index.js';
import { h, timeOf } from './dom.js';

const RANK: Readonly<Record<Role, number>> = { owner: 3, admin: 2, member: 1, guest: 0 };
export const ROLES: readonly Role[] = ['owner', 'admin', 'member', 'guest'];

export interface Moderation {
  /** The node's view, or undefined until first read (or while it cannot be read). */
  readonly view: Observable<ModerationView | undefined>;
  destroy(): void;
}

/** Follows one conversation's moderation view; reads it again after every moderation event, one read at a time. */
export function followModeration(conv: Conversation): Moderation {
  const view = new Value<ModerationView | undefined>(undefined);
  let reading = false;
  let again = false;
  let destroyed = false;
  const read = (): void => {
    if (reading) return void (again = true);
    reading = true;
    again = false;
    conv.moderation
      .view()
      .then((v) => !destroyed && view.set(v))
      // Offline or no longer a member: keep what the page shows; the next event reads again.
      .catch(() => undefined)
      .finally(() => {
        reading = false;
        if (again && !destroyed) read();
      });
  };
  const off = conv.moderation.changes.subscribe(read);
  read();
  return { view, destroy: () => ((destroyed = true), off()) };
}

export function roleIn(view: ModerationView | undefined, userId: string): Role | undefined {
  return view?.members.find((m) => m.userId === userId)?.role;
}

/** Until when (ms) the user is muted, if that is still ahead of `now`. */
export function mutedUntil(view: ModerationView | undefined, userId: string, now = Date.now()): number | undefined {
  const until = view?.members.find((m) => m.userId === userId)?.mutedUntil;
  return until !== undefined && until > now ? until : undefined;
}

export function isModerator(role: Role | undefined): boolean {
  return role === 'owner' || role === 'admin';
}

/** Whether `me` may change the role of, mute, ban or remove `them`. */
export function mayActOn(me: Role | undefined, them: Role): boolean {
  return isModerator(me) && (me === 'owner' || RANK[me!] > RANK[them]);
}

/** The roles `me` may give: owners any, admins only below themselves. */
export function grantable(me: Role | undefined): Role[] {
  if (me === 'owner') return [...ROLES];
  return me === 'admin' ? ['member', 'guest'] : [];
}

/** A member's role, and their mute while it lasts. */
export function roleBadges(view: ModerationView | undefined, userId: string): HTMLElement[] {
  const role = roleIn(view, userId);
  const until = mutedUntil(view, userId);
  return [
    ...(role ? [h('span', { class: `role role-${role}` }, role)] : []),
    ...(until !== undefined ? [h('span', { class: 'muted-badge' }, `muted until ${timeOf(until)}`)] : []),
  ];
}

/** Why this user cannot post now, or undefined when they can. */
export function cannotPost(view: ModerationView | undefined, me: string): string | undefined {
  if (roleIn(view, me) === 'guest') return 'You are a guest here: you can read, but not post.';
  const until = mutedUntil(view, me);
  if (until === undefined) return undefined;
  return until > 8.64e15 ? 'You are muted here until further notice.' : `You are muted here until ${new Date(until).toLocaleString()}.`;
}
