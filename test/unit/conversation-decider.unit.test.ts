/** The conversation decider, given/when/then: no I/O. */
import { describe, expect, it } from 'vitest';
import { ParleyError } from '../../protocol/index.js';
import {
  decide,
  evolve,
  initialState,
  type ConversationCommand,
  type ConversationState,
} from '../../engine/domain/index.js';

function given(events: Array<{ type: string; data: unknown }>): ConversationState {
  return events.reduce((s, e) => evolve(s, e as never), initialState());
}

function when(state: ConversationState, command: ConversationCommand, actor = 'alice') {
  let n = 0;
  return decide(command, state, { actor, newId: () => `id-${++n}`, now: 0 });
}

function expectError(fn: () => unknown, code: string) {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ParleyError);
    expect((err as ParleyError).code).toBe(code);
    return;
  }
  throw new Error(`expected ${code}`);
}

const created = { type: 'ConversationCreated', data: { title: 't', createdBy: 'alice', members: ['alice', 'bob'] } };
const posted = { type: 'MessagePosted', data: { messageId: 'm1', author: 'bob', text: 'hi' } };

describe('conversation decider', () => {
  it('creates a conversation with the creator as a member, once', () => {
    expect(when(initialState(), { type: 'CreateConversation', title: 't', members: ['bob', 'bob'] })).toEqual([
      { type: 'ConversationCreated', data: { title: 't', createdBy: 'alice', members: ['alice', 'bob'] } },
    ]);
    expectError(() => when(given([created]), { type: 'CreateConversation', title: 't', members: [] }), 'forbidden');
  });

  it('refuses everything from non-members and for conversations that do not exist, alike', () => {
    expectError(() => when(given([created]), { type: 'PostMessage', text: 'x' }, 'eve'), 'forbidden');
    expectError(() => when(initialState(), { type: 'PostMessage', text: 'x' }), 'forbidden');
    expectError(() => when(given([created]), { type: 'AddMember', userId: 'eve' }, 'eve'), 'forbidden');
  });

  it('posts a message with a fresh id, text verbatim', () => {
    const text = "<img src=x onerror=alert(1)> '; DROP TABLE events; --";
    expect(when(given([created]), { type: 'PostMessage', text })).toEqual([
      { type: 'MessagePosted', data: { messageId: 'id-1', author: 'alice', text, format: 'plain' } },
    ]);
  });

  it('lets members invite, anyone leave, and only the creator remove others', () => {
    const s = given([created]);
    expect(when(s, { type: 'AddMember', userId: 'carol' }, 'bob')[0]!.type).toBe('MemberJoined');
    expectError(() => when(s, { type: 'AddMember', userId: 'bob' }), 'already_member');
    expect(when(s, { type: 'RemoveMember', userId: 'bob' }, 'bob')[0]!.type).toBe('MemberLeft');
    expectError(() => when(s, { type: 'RemoveMember', userId: 'alice' }, 'bob'), 'forbidden');
    expect(when(s, { type: 'RemoveMember', userId: 'bob' }, 'alice')[0]!.data).toEqual({ userId: 'bob', removedBy: 'alice' });
    expectError(() => when(s, { type: 'RemoveMember', userId: 'carol' }), 'not_member');
    const left = given([created, { type: 'MemberLeft', data: { userId: 'bob', removedBy: 'bob' } }]);
    expectError(() => when(left, { type: 'PostMessage', text: 'x' }, 'bob'), 'forbidden');
  });

  it('lets only the author (or an owner or admin: roles.unit.test.ts) delete, once', () => {
    const carolJoined = { type: 'MemberJoined', data: { userId: 'carol', addedBy: 'alice' } };
    const s = given([created, carolJoined, posted]);
    expectError(() => when(s, { type: 'DeleteMessage', messageId: 'm1' }, 'carol'), 'not_author');
    expect(when(s, { type: 'DeleteMessage', messageId: 'm1' }, 'bob')).toEqual([
      { type: 'MessageDeleted', data: { messageId: 'm1', deletedBy: 'bob' } },
    ]);
    expectError(() => when(s, { type: 'DeleteMessage', messageId: 'nope' }, 'bob'), 'message_not_found');
    const deleted = given([created, posted, { type: 'MessageDeleted', data: { messageId: 'm1', deletedBy: 'bob' } }]);
    expectError(() => when(deleted, { type: 'DeleteMessage', messageId: 'm1' }, 'bob'), 'message_deleted');
    expectError(() => when(deleted, { type: 'AddReaction', messageId: 'm1', emoji: '👍' }), 'message_deleted');
  });

  it('adds and removes reactions idempotently', () => {
    const s = given([created, posted]);
    expect(when(s, { type: 'AddReaction', messageId: 'm1', emoji: '👍' })).toHaveLength(1);
    const reacted = given([created, posted, { type: 'ReactionAdded', data: { messageId: 'm1', userId: 'alice', emoji: '👍' } }]);
    expect(when(reacted, { type: 'AddReaction', messageId: 'm1', emoji: '👍' })).toEqual([]);
    expect(when(reacted, { type: 'AddReaction', messageId: 'm1', emoji: '👍' }, 'bob')).toHaveLength(1);
    expect(when(reacted, { type: 'RemoveReaction', messageId: 'm1', emoji: '👍' })[0]!.type).toBe('ReactionRemoved');
    expect(when(s, { type: 'RemoveReaction', messageId: 'm1', emoji: '👍' })).toEqual([]);
  });

  it('sets read markers only within the conversation', () => {
    const s = given([created, posted]);
    expect(when(s, { type: 'MarkRead', seq: 2 }, 'bob')).toEqual([{ type: 'ReadMarkerSet', data: { userId: 'bob', seq: 2 } }]);
    expectError(() => when(s, { type: 'MarkRead', seq: 3 }, 'bob'), 'seq_out_of_range');
  });

  it('counts every event in the version, including ones it does not act on', () => {
    const s = given([created, posted, { type: 'SomeFutureEvent', data: {} }]);
    expect(s.version).toBe(3);
  });
});
