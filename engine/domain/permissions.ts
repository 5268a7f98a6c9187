/**
 * Who may do what in a conversation: ONE table of roles and actions, and the rank rule for
 * acting on another member. Pure; the decider and the document write rule both ask here.
 *
 * Logs written before roles existed have no role events and replay to the rights they had:
 * the creator is owner (the only one who could remove others), everybody else a member
 * (may post, react, invite and edit the notes; may delete only their own messages).
 */
import type { Role } from '../../protocol/index.js';

export type Action =
  | 'post'
  | 'react'
  | 'editNotes'
  | 'editTitle'
  | 'invite'
  | 'removeOthers'
  | 'changeRoles'
  | 'deleteOthers'
  | 'pin'
  | 'mute'
  | 'ban'
  | 'report'
  | 'resolveReports'
  | 'setRetention';

const everything: readonly Action[] = [
  'post', 'react', 'editNotes', 'editTitle', 'invite', 'removeOthers', 'changeRoles', 'deleteOthers', 'pin', 'mute', 'ban', 'report',
  'resolveReports', 'setRetention',
];

/** The permission table. */
export const PERMISSIONS: Readonly<Record<Role, ReadonlySet<Action>>> = {
  owner: new Set(everything),
  admin: new Set(everything),
  member: new Set<Action>(['post', 'react', 'editNotes', 'invite', 'report']),
  guest: new Set<Action>(['report']),
};

/** Higher acts on lower: an admin may moderate members and guests, not admins or owners. */
export const RANK: Readonly<Record<Role, number>> = { owner: 3, admin: 2, member: 1, guest: 0 };

export const ROLES: readonly Role[] = ['owner', 'admin', 'member', 'guest'];

export function isAllowed(role: Role | undefined, action: Action): boolean {
  return role !== undefined && PERMISSIONS[role].has(action);
}

/**
 * Whether `actor` may act on `target` (remove, mute, ban, change the role of): owners on
 * anybody (owners are peers; the last-owner rule guards the conversation), others only on
 * lower ranks.
 */
export function outranks(actor: Role, target: Role): boolean {
  return actor === 'owner' || RANK[actor] > RANK[target];
}

/** Whether `actor` may give `role`: nobody gives more than they hold, and admins only below themselves. */
export function mayGrant(actor: Role, role: Role): boolean {
  return actor === 'owner' || RANK[actor] > RANK[role];
}
