/** Roles and moderation in the conversation decider, given/when/then: no I/O. */
import { describe, expect, it } from 'vitest';
import { ParleyError } from '../../protocol/index.js';
import {
  decide,
  evolve,
  initialState,
  PERMISSIONS,
  roleOf,
  type ConversationCommand,
  type ConversationState,
} from '../../engine/domain/index.js';

type E = { type: string; data: unknown };

function given(events: E[]): ConversationState {
  return events.reduce((s, e) => evolve(s, e as never), initialState());
}

function when(state: ConversationState, command: ConversationCommand, actor = 'alice', now = 1_000) {
  return decide(command, state, { actor, newId: () => 'new', now });
}

function expectError(fn: () => unknown, code: string) {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(ParleyError);
  expect((thrown as ParleyError).code).toBe(code);
}

const created: E = { type: 'ConversationCreated', data: { title: 't', createdBy: 'alice', members: ['alice', 'bob', 'carol', 'dave'] } };
const role = (userId: string, r: string, by = 'alice'): E => ({ type: 'RoleChanged', data: { userId, role: r, changedBy: by } });
const posted = (messageId: string, author: string): E => ({ type: 'MessagePosted', data: { messageId, author, text: 'hi', format: 'plain' } });
/** alice owner, bob admin, carol member, dave guest, and a message of each of carol and bob. */
const base = [created, role('bob', 'admin'), role('dave', 'guest'), posted('mc', 'carol'), posted('mb', 'bob')];

describe('roles: the permission table', () => {
  it('replays a log without role events to the rights of before: creator owner, others members', () => {
    const s = given([created, { type: 'MemberJoined', data: { userId: 'erin', addedBy: 'bob' } }]);
    expect(['alice', 'bob', 'erin', 'zed'].map((u) => roleOf(s, u))).toEqual(['owner', 'member', 'member', undefined]);
  });

  it('gives the creator who left and rejoined an ownerless (old) conversation their ownership back', () => {
    const s = given([created, { type: 'MemberLeft', data: { userId: 'alice', removedBy: 'alice' } }, { type: 'MemberJoined', data: { userId: 'alice', addedBy: 'bob' } }]);
    expect(roleOf(s, 'alice')).toBe('owner');
    expect(when(s, { type: 'RemoveMember', userId: 'carol' })[0]!.type).toBe('MemberLeft');
  });

  it('has guests read only: no post, react, invite; they may report and mark read', () => {
    const s = given(base);
    expect(PERMISSIONS.guest.has('post')).toBe(false);
    expectError(() => when(s, { type: 'PostMessage', text: 'x' }, 'dave'), 'forbidden');
    expectError(() => when(s, { type: 'AddReaction', messageId: 'mc', emoji: '👍' }, 'dave'), 'forbidden');
    expectError(() => when(s, { type: 'AddMember', userId: 'erin' }, 'dave'), 'forbidden');
    expect(when(s, { type: 'MarkRead', seq: 1 }, 'dave')).toHaveLength(1);
    expect(when(s, { type: 'ReportMessage', messageId: 'mc', reason: 'spam' }, 'dave')).toEqual([
      { type: 'MessageReported', data: { messageId: 'mc', reportedBy: 'dave', reason: 'spam' } },
    ]);
  });

  it('lets owners and admins delete any message, members only their own', () => {
    const s = given(base);
    expect(when(s, { type: 'DeleteMessage', messageId: 'mc' }, 'bob')).toEqual([{ type: 'MessageDeleted', data: { messageId: 'mc', deletedBy: 'bob' } }]);
    expect(when(s, { type: 'DeleteMessage', messageId: 'mb' }, 'alice')).toHaveLength(1);
    expectError(() => when(s, { type: 'DeleteMessage', messageId: 'mb' }, 'carol'), 'not_author');
    expect(when(s, { type: 'DeleteMessage', messageId: 'mc' }, 'carol')).toHaveLength(1);
  });

  it('lets admins remove members and guests but not admins or owners; members remove nobody', () => {
    const s = given([...base, { type: 'MemberJoined', data: { userId: 'erin', addedBy: 'alice' } }, role('erin', 'admin')]);
    expect(when(s, { type: 'RemoveMember', userId: 'carol' }, 'bob')[0]!.data).toEqual({ userId: 'carol', removedBy: 'bob' });
    expect(when(s, { type: 'RemoveMember', userId: 'dave' }, 'bob')).toHaveLength(1);
    expectError(() => when(s, { type: 'RemoveMember', userId: 'erin' }, 'bob'), 'forbidden');
    expectError(() => when(s, { type: 'RemoveMember', userId: 'alice' }, 'bob'), 'forbidden');
    expectError(() => when(s, { type: 'RemoveMember', userId: 'dave' }, 'carol'), 'forbidden');
    expect(when(s, { type: 'RemoveMember', userId: 'bob' })).toHaveLength(1);
  });
});

describe('roles: changing them', () => {
  it('lets owners give any role, admins only member or guest to lower ranks', () => {
    const s = given(base);
    expect(when(s, { type: 'SetRole', userId: 'carol', role: 'owner' })).toEqual([{ type: 'RoleChanged', data: { userId: 'carol', role: 'owner', changedBy: 'alice' } }]);
    expect(when(s, { type: 'SetRole', userId: 'carol', role: 'guest' }, 'bob')).toHaveLength(1);
    expectError(() => when(s, { type: 'SetRole', userId: 'carol', role: 'admin' }, 'bob'), 'forbidden');
    expectError(() => when(s, { type: 'SetRole', userId: 'alice', role: 'member' }, 'bob'), 'forbidden');
    expectError(() => when(s, { type: 'SetRole', userId: 'dave', role: 'member' }, 'carol'), 'forbidden');
    expectError(() => when(s, { type: 'SetRole', userId: 'zed', role: 'member' }), 'not_member');
    expect(when(s, { type: 'SetRole', userId: 'bob', role: 'admin' })).toEqual([]);
  });

  it('keeps the last owner from leaving or being demoted until they hand over', () => {
    const s = given(base);
    expectError(() => when(s, { type: 'RemoveMember', userId: 'alice' }), 'last_owner');
    expectError(() => when(s, { type: 'SetRole', userId: 'alice', role: 'admin' }), 'last_owner');
    const handedOver = given([...base, role('carol', 'owner')]);
    expect(when(handedOver, { type: 'SetRole', userId: 'alice', role: 'member' })).toHaveLength(1);
    expect(when(handedOver, { type: 'RemoveMember', userId: 'alice' })).toHaveLength(1);
    const alone = given([{ type: 'ConversationCreated', data: { title: 't', createdBy: 'alice', members: ['alice'] } }]);
    expect(when(alone, { type: 'RemoveMember', userId: 'alice' })).toHaveLength(1);
  });

  it('forgets a role when the member leaves: they come back as a member', () => {
    const s = given([...base, { type: 'MemberLeft', data: { userId: 'bob', removedBy: 'alice' } }, { type: 'MemberJoined', data: { userId: 'bob', addedBy: 'alice' } }]);
    expect(roleOf(s, 'bob')).toBe('member');
  });
});

describe('moderation', () => {
  it('mutes until a time given by the context, not a clock', () => {
    const s = given([...base, { type: 'MemberMuted', data: { userId: 'carol', until: 5_000, mutedBy: 'bob' } }]);
    expectError(() => when(s, { type: 'PostMessage', text: 'x' }, 'carol', 4_999), 'muted');
    expect(when(s, { type: 'PostMessage', text: 'x' }, 'carol', 5_000)[0]!.type).toBe('MessagePosted');
    expect(when(given(base), { type: 'MuteMember', userId: 'carol', until: 5_000 }, 'bob')).toEqual([
      { type: 'MemberMuted', data: { userId: 'carol', until: 5_000, mutedBy: 'bob' } },
    ]);
    expectError(() => when(given(base), { type: 'MuteMember', userId: 'alice', until: 5_000 }, 'bob'), 'forbidden');
    expectError(() => when(given(base), { type: 'MuteMember', userId: 'dave', until: 5_000 }, 'carol'), 'forbidden');
    // Any safe integer is a valid `until`, also past what a Date holds: still a coded refusal.
    const forever = given([...base, { type: 'MemberMuted', data: { userId: 'carol', until: Number.MAX_SAFE_INTEGER, mutedBy: 'bob' } }]);
    expectError(() => when(forever, { type: 'PostMessage', text: 'x' }, 'carol'), 'muted');
  });

  it('bans: removed at once (MemberLeft last), not re-added until unbanned', () => {
    const s = given(base);
    const banned = when(s, { type: 'BanMember', userId: 'carol' }, 'bob');
    expect(banned).toEqual([
      { type: 'MemberBanned', data: { userId: 'carol', bannedBy: 'bob' } },
      { type: 'MemberLeft', data: { userId: 'carol', removedBy: 'bob' } },
    ]);
    const after = given([...base, ...banned]);
    expectError(() => when(after, { type: 'PostMessage', text: 'x' }, 'carol'), 'forbidden');
    expectError(() => when(after, { type: 'AddMember', userId: 'carol' }), 'banned');
    expect(when(after, { type: 'BanMember', userId: 'carol' })).toEqual([]);
    expectError(() => when(after, { type: 'UnbanMember', userId: 'carol' }, 'dave'), 'forbidden');
    const unbanned = when(after, { type: 'UnbanMember', userId: 'carol' });
    expect(unbanned).toEqual([{ type: 'MemberUnbanned', data: { userId: 'carol', unbannedBy: 'alice' } }]);
    expect(when(given([...base, ...banned, ...unbanned]), { type: 'AddMember', userId: 'carol' })[0]!.type).toBe('MemberJoined');
    expect(when(s, { type: 'BanMember', userId: 'nobody' })).toEqual([{ type: 'MemberBanned', data: { userId: 'nobody', bannedBy: 'alice' } }]);
    expectError(() => when(s, { type: 'BanMember', userId: 'alice' }, 'bob'), 'forbidden');
    expectError(() => when(s, { type: 'BanMember', userId: 'alice' }), 'forbidden');
  });

  it('takes one report per user and live message', () => {
    const s = given([...base, { type: 'MessageReported', data: { messageId: 'mc', reportedBy: 'dave', reason: 'r' } }]);
    expect(when(s, { type: 'ReportMessage', messageId: 'mc', reason: 'again' }, 'dave')).toEqual([]);
    expect(when(s, { type: 'ReportMessage', messageId: 'mc', reason: 'r' }, 'carol')).toHaveLength(1);
    expectError(() => when(s, { type: 'ReportMessage', messageId: 'nope', reason: 'r' }, 'carol'), 'message_not_found');
  });

  it('pins and unpins (owners and admins), idempotently; a deleted message is unpinned', () => {
    const s = given(base);
    expect(when(s, { type: 'PinMessage', messageId: 'mc' }, 'bob')).toEqual([{ type: 'MessagePinned', data: { messageId: 'mc', pinnedBy: 'bob' } }]);
    expectError(() => when(s, { type: 'PinMessage', messageId: 'mc' }, 'carol'), 'forbidden');
    const pinned = given([...base, { type: 'MessagePinned', data: { messageId: 'mc', pinnedBy: 'bob' } }]);
    expect(when(pinned, { type: 'PinMessage', messageId: 'mc' })).toEqual([]);
    expect(when(pinned, { type: 'UnpinMessage', messageId: 'mc' })).toHaveLength(1);
    const deleted = given([...base, { type: 'MessagePinned', data: { messageId: 'mc', pinnedBy: 'bob' } }, { type: 'MessageDeleted', data: { messageId: 'mc', deletedBy: 'carol' } }]);
    expect(when(deleted, { type: 'UnpinMessage', messageId: 'mc' })).toEqual([]);
  });
});

describe('resolving reports', () => {
  const reported = (messageId: string, by: string): E => ({ type: 'MessageReported', data: { messageId, reportedBy: by, reason: 'spam' } });
  const resolved = (messageId: string, outcome: string, by = 'bob'): E => ({ type: 'ReportResolved', data: { messageId, outcome, resolvedBy: by } });

  it("closes a message's open reports: owners and admins only, members and guests are refused", () => {
    const s = given([...base, reported('mc', 'dave'), reported('mc', 'carol')]);
    expect(when(s, { type: 'ResolveReport', messageId: 'mc', outcome: 'dismissed' }, 'bob')).toEqual([
      { type: 'ReportResolved', data: { messageId: 'mc', outcome: 'dismissed', resolvedBy: 'bob' } },
    ]);
    expect(when(s, { type: 'ResolveReport', messageId: 'mc', outcome: 'resolved' }, 'alice')).toHaveLength(1);
    expectError(() => when(s, { type: 'ResolveReport', messageId: 'mc', outcome: 'resolved' }, 'carol'), 'forbidden');
    expectError(() => when(s, { type: 'ResolveReport', messageId: 'mc', outcome: 'resolved' }, 'dave'), 'forbidden');
    expectError(() => when(s, { type: 'ResolveReport', messageId: 'mc', outcome: 'resolved' }, 'zed'), 'forbidden');
  });

  it('changes nothing when no report is open; an unknown message is not found', () => {
    const s = given([...base, reported('mc', 'dave'), resolved('mc', 'resolved')]);
    expect(when(s, { type: 'ResolveReport', messageId: 'mc', outcome: 'dismissed' })).toEqual([]);
    expect(when(given(base), { type: 'ResolveReport', messageId: 'mb', outcome: 'resolved' })).toEqual([]);
    expectError(() => when(s, { type: 'ResolveReport', messageId: 'nope', outcome: 'resolved' }), 'message_not_found');
  });

  it("reopens with another user's report after a resolution; the same user still reports once", () => {
    const s = given([...base, reported('mc', 'dave'), resolved('mc', 'dismissed')]);
    expect(when(s, { type: 'ReportMessage', messageId: 'mc', reason: 'again' }, 'dave')).toEqual([]);
    const again = given([...base, reported('mc', 'dave'), resolved('mc', 'dismissed'), reported('mc', 'carol')]);
    expect(when(again, { type: 'ResolveReport', messageId: 'mc', outcome: 'resolved' })).toHaveLength(1);
  });

  it('resolves the reports of a message deleted since (deleting it is a resolution)', () => {
    const s = given([...base, reported('mc', 'dave'), { type: 'MessageDeleted', data: { messageId: 'mc', deletedBy: 'bob' } }]);
    expect(when(s, { type: 'ResolveReport', messageId: 'mc', outcome: 'resolved' }, 'bob')).toEqual([
      { type: 'ReportResolved', data: { messageId: 'mc', outcome: 'resolved', resolvedBy: 'bob' } },
    ]);
  });
});
