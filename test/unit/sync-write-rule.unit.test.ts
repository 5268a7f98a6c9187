/** The one write rule per document, and document names: pure, given/when/then. */
import { describe, expect, it } from 'vitest';
import { domain } from '../../engine/index.js';
import { docNames, parseDocName, readRefusal, writeRefusal } from '../../sync/index.js';

const C = '0b6f7c1e-7a4e-4a53-9f0e-2f1a4c7d9e01';
const M = '5d2c9b8a-1f3e-4c6d-8b7a-9e0f1a2b3c4d';

function given(events: Array<{ type: string; data: unknown }>): domain.ConversationState {
  const state = domain.initialState();
  for (const e of events) domain.evolve(state, e as never);
  return state;
}

const conversation = given([
  { type: 'ConversationCreated', data: { title: 't', createdBy: 'alice', members: ['alice', 'bob'] } },
  { type: 'MessagePosted', data: { messageId: M, author: 'alice', text: 'hi' } },
]);

describe('document names', () => {
  it('round-trip the three kinds and reject anything else', () => {
    expect(parseDocName(docNames.messageBody(C, M))).toEqual({ kind: 'message', conversationId: C, messageId: M });
    expect(parseDocName(docNames.notes(C))).toEqual({ kind: 'notes', conversationId: C });
    expect(parseDocName(docNames.draft('user:with:colons', C))).toEqual({ kind: 'draft', userId: 'user:with:colons', conversationId: C });
    for (const bad of ['', 'notes', 'notes:', 'msg:onlyone', 'draft::' + C, 'other:' + C, `notes:${C}/x`, 'msg:a b:c']) {
      expect(parseDocName(bad)).toBeNull();
    }
  });
});

describe('write rule per document', () => {
  it('message body: the author writes, members read, others neither', () => {
    const ref = parseDocName(docNames.messageBody(C, M))!;
    expect(writeRefusal(ref, 'alice', conversation)).toBeNull();
    expect(writeRefusal(ref, 'bob', conversation)).toBe('not_author');
    expect(readRefusal(ref, 'bob', conversation)).toBeNull();
    expect(readRefusal(ref, 'mallory', conversation)).toBe('forbidden');
    expect(writeRefusal(ref, 'mallory', conversation)).toBe('forbidden');
  });

  it('message body of a missing or deleted message: nobody', () => {
    const missing = parseDocName(docNames.messageBody(C, 'nope'))!;
    expect(readRefusal(missing, 'alice', conversation)).toBe('message_not_found');
    const deleted = given([
      { type: 'ConversationCreated', data: { title: 't', createdBy: 'alice', members: ['alice'] } },
      { type: 'MessagePosted', data: { messageId: M, author: 'alice', text: 'hi' } },
      { type: 'MessageDeleted', data: { messageId: M, deletedBy: 'alice' } },
    ]);
    expect(writeRefusal(parseDocName(docNames.messageBody(C, M))!, 'alice', deleted)).toBe('message_deleted');
  });

  it('notes: members read and write; a member who left, nobody outside, no conversation: forbidden', () => {
    const ref = parseDocName(docNames.notes(C))!;
    expect(writeRefusal(ref, 'bob', conversation)).toBeNull();
    expect(writeRefusal(ref, 'mallory', conversation)).toBe('forbidden');
    const left = given([
      { type: 'ConversationCreated', data: { title: 't', createdBy: 'alice', members: ['alice', 'bob'] } },
      { type: 'MemberLeft', data: { userId: 'bob', removedBy: 'bob' } },
    ]);
    expect(readRefusal(ref, 'bob', left)).toBe('forbidden');
    expect(readRefusal(ref, 'alice', domain.initialState())).toBe('forbidden');
    expect(readRefusal(ref, 'alice', null)).toBe('forbidden');
  });

  it('draft: its user only, whatever the conversation says', () => {
    const ref = parseDocName(docNames.draft('bob', C))!;
    expect(writeRefusal(ref, 'bob', null)).toBeNull();
    expect(readRefusal(ref, 'alice', conversation)).toBe('forbidden');
    expect(writeRefusal(ref, 'alice', conversation)).toBe('forbidden');
  });
});
