/** Threads and mentions in the conversation decider, given/when/then: no I/O. */
import { describe, expect, it } from 'vitest';
import { ParleyError } from '../../protocol/index.js';
import { decide, evolve, initialState, type ConversationCommand, type ConversationState } from '../../engine/domain/index.js';
import { mentionsIn } from '../../engine/domain/mentions.js';

function given(events: Array<{ type: string; data: unknown }>): ConversationState {
  return events.reduce((s, e) => evolve(s, e as never), initialState());
}

function when(state: ConversationState, command: ConversationCommand, actor = 'alice') {
  return decide(command, state, { actor, newId: () => 'new', now: 0 });
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ParleyError);
    return (err as ParleyError).code;
  }
  return undefined;
}

const created = { type: 'ConversationCreated', data: { title: 't', createdBy: 'alice', members: ['alice', 'bob'] } };
const root = { type: 'MessagePosted', data: { messageId: 'root', author: 'bob', text: 'hi', format: 'plain' } };
const reply = { type: 'MessagePosted', data: { messageId: 'r1', author: 'alice', text: 'yo', format: 'plain', threadRootId: 'root', threadRootAuthor: 'bob' } };

describe('threads in the decider', () => {
  it('a reply names its root and the root author', () => {
    expect(when(given([created, root]), { type: 'PostMessage', text: 'yes', threadRootId: 'root' })).toEqual([
      { type: 'MessagePosted', data: { messageId: 'new', author: 'alice', text: 'yes', format: 'plain', threadRootId: 'root', threadRootAuthor: 'bob' } },
    ]);
  });

  it('a reply to a reply goes to the root', () => {
    const [event] = when(given([created, root, reply]), { type: 'PostMessage', text: 'deeper', threadRootId: 'r1' }, 'bob');
    expect(event!.data).toMatchObject({ threadRootId: 'root', threadRootAuthor: 'bob' });
  });

  it('refuses replies to messages that are missing or deleted', () => {
    const s = given([created, root]);
    expect(codeOf(() => when(s, { type: 'PostMessage', text: 'x', threadRootId: 'nope' }))).toBe('message_not_found');
    const deleted = given([created, root, { type: 'MessageDeleted', data: { messageId: 'root', deletedBy: 'bob' } }]);
    expect(codeOf(() => when(deleted, { type: 'PostMessage', text: 'x', threadRootId: 'root' }))).toBe('message_deleted');
  });

  it('follow, unfollow and thread read markers name the root, even when given a reply', () => {
    const s = given([created, root, reply]);
    expect(when(s, { type: 'FollowThread', threadRootId: 'r1' })).toEqual([{ type: 'ThreadFollowed', data: { threadRootId: 'root', userId: 'alice' } }]);
    expect(when(s, { type: 'UnfollowThread', threadRootId: 'root' })).toEqual([{ type: 'ThreadUnfollowed', data: { threadRootId: 'root', userId: 'alice' } }]);
    expect(when(s, { type: 'MarkThreadRead', threadRootId: 'root', seq: 3 })).toEqual([
      { type: 'ThreadReadMarkerSet', data: { threadRootId: 'root', userId: 'alice', seq: 3 } },
    ]);
    expect(codeOf(() => when(s, { type: 'MarkThreadRead', threadRootId: 'root', seq: 4 }))).toBe('seq_out_of_range');
    expect(codeOf(() => when(s, { type: 'FollowThread', threadRootId: 'nope' }))).toBe('message_not_found');
  });

  it('thread commands from non-members are refused like any other', () => {
    expect(codeOf(() => when(given([created, root]), { type: 'FollowThread', threadRootId: 'root' }, 'eve'))).toBe('forbidden');
    expect(codeOf(() => when(given([created, root]), { type: 'PostMessage', text: 'x', threadRootId: 'root' }, 'eve'))).toBe('forbidden');
  });
});

describe('mentions in the decider', () => {
  it('resolves @userId of members at that moment; non-members stay plain text', () => {
    const s = given([created, { type: 'MemberJoined', data: { userId: 'carol', addedBy: 'alice' } }]);
    const [event] = when(s, { type: 'PostMessage', text: 'hey @bob, @carol and @mallory: see mail@bob' });
    expect(event!.data).toMatchObject({ mentions: ['bob', 'carol'] });
    expect((event!.data as { text: string }).text).toBe('hey @bob, @carol and @mallory: see mail@bob');
  });

  it('leaves `mentions` out when nobody is mentioned, and never lists the author', () => {
    const [event] = when(given([created]), { type: 'PostMessage', text: 'note to @alice' });
    expect(event!.data).not.toHaveProperty('mentions');
  });

  it('a member who left is not mentioned any more', () => {
    const s = given([created, { type: 'MemberLeft', data: { userId: 'bob', removedBy: 'bob' } }]);
    expect(when(s, { type: 'PostMessage', text: '@bob?' })[0]!.data).not.toHaveProperty('mentions');
  });

  it('marks mentions read up to a seq within the conversation', () => {
    const s = given([created, root]);
    expect(when(s, { type: 'MarkMentionsRead', seq: 2 })).toEqual([{ type: 'MentionsReadMarkerSet', data: { userId: 'alice', seq: 2 } }]);
    expect(codeOf(() => when(s, { type: 'MarkMentionsRead', seq: 3 }))).toBe('seq_out_of_range');
  });

  it('mentionsIn: ids with punctuation, repeats and hostile names', () => {
    const members = new Set(['a.b', '__proto__', 'constructor', 'x']);
    expect(mentionsIn('@a.b. @__proto__ @x @x @constructor!', members, 'me')).toEqual(['a.b', '__proto__', 'x', 'constructor']);
    expect(mentionsIn('e@x @ x x_@x', members, 'me')).toEqual([]);
  });
});
