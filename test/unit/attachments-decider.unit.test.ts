/** Attachments in the conversation decider, given/when/then: no I/O. */
import { describe, expect, it } from 'vitest';
import { ParleyError } from '../../protocol/index.js';
import {
  decide,
  decideDiscard,
  decideUpload,
  evolve,
  fetchableUpload,
  initialState,
  type ConversationCommand,
  type ConversationState,
} from '../../engine/domain/index.js';

function given(events: Array<{ type: string; data: unknown }>): ConversationState {
  return events.reduce((s, e) => evolve(s, e as never), initialState());
}

function when(state: ConversationState, command: ConversationCommand, actor = 'alice') {
  return decide(command, state, { actor, newId: () => 'm-new', now: 0 });
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

const created = { type: 'ConversationCreated', data: { title: 't', createdBy: 'alice', members: ['alice', 'bob'] } };
const ref = (id: string) => ({ id, name: `${id}.png`, type: 'image/png', size: 10, width: 2, height: 3 });
const uploaded = (id: string, by = 'alice') => ({ type: 'AttachmentUploaded', data: { attachment: ref(id), uploadedBy: by, sha256: 'ab'.repeat(32) } });

describe('attachments decider', () => {
  it('records an upload by a member only', () => {
    const s = given([created]);
    expect(decideUpload(s, 'bob', { attachment: ref('a1'), sha256: 'ff' })).toEqual([
      { type: 'AttachmentUploaded', data: { attachment: ref('a1'), sha256: 'ff', uploadedBy: 'bob' } },
    ]);
    expectError(() => decideUpload(s, 'eve', { attachment: ref('a1'), sha256: 'ff' }), 'forbidden');
    expectError(() => decideUpload(initialState(), 'alice', { attachment: ref('a1'), sha256: 'ff' }), 'forbidden');
  });

  it('posts a message carrying the descriptions of its attachments', () => {
    const s = given([created, uploaded('a1'), uploaded('a2')]);
    expect(when(s, { type: 'PostMessage', text: 'look', attachments: ['a2', 'a1'] })).toEqual([
      { type: 'MessagePosted', data: { messageId: 'm-new', author: 'alice', text: 'look', format: 'plain', attachments: [ref('a2'), ref('a1')] } },
    ]);
  });

  it('refuses unknown, foreign, discarded and already attached uploads', () => {
    const s = given([
      created,
      uploaded('a1'),
      uploaded('b1', 'bob'),
      uploaded('gone'),
      { type: 'AttachmentDiscarded', data: { attachmentId: 'gone', reason: 'orphaned' } },
      uploaded('used'),
      { type: 'MessagePosted', data: { messageId: 'm1', author: 'alice', text: 'x', format: 'plain', attachments: [ref('used')] } },
    ]);
    expectError(() => when(s, { type: 'PostMessage', text: 'x', attachments: ['nope'] }), 'attachment_not_found');
    expectError(() => when(s, { type: 'PostMessage', text: 'x', attachments: ['b1'] }), 'attachment_not_found');
    expectError(() => when(s, { type: 'PostMessage', text: 'x', attachments: ['gone'] }), 'attachment_not_found');
    expectError(() => when(s, { type: 'PostMessage', text: 'x', attachments: ['used'] }), 'attachment_in_use');
    expectError(() => when(s, { type: 'PostMessage', text: 'x', attachments: ['a1', 'a1'] }), 'invalid_request');
    // A refused post attaches nothing: the good upload is still free.
    expect(when(s, { type: 'PostMessage', text: 'x', attachments: ['a1'] })).toHaveLength(1);
  });

  it('an upload of another conversation is not known here', () => {
    const other = given([created]);
    expectError(() => when(other, { type: 'PostMessage', text: 'x', attachments: ['a1'] }), 'attachment_not_found');
  });

  it('discards only uploads nobody attached, once; discarded uploads are not fetchable', () => {
    const s = given([
      created,
      uploaded('a1'),
      uploaded('used'),
      { type: 'MessagePosted', data: { messageId: 'm1', author: 'alice', text: 'x', format: 'plain', attachments: [ref('used')] } },
    ]);
    expect(decideDiscard(s, 'used', 'orphaned')).toEqual([]);
    expect(decideDiscard(s, 'nope', 'orphaned')).toEqual([]);
    const discard = decideDiscard(s, 'a1', 'orphaned');
    expect(discard).toEqual([{ type: 'AttachmentDiscarded', data: { attachmentId: 'a1', reason: 'orphaned' } }]);
    expect(fetchableUpload(s, 'a1')).toBeDefined();
    evolve(s, discard[0]!);
    expect(fetchableUpload(s, 'a1')).toBeUndefined();
    expect(decideDiscard(s, 'a1', 'orphaned')).toEqual([]);
    expect(fetchableUpload(s, 'used')?.sha256).toBe('ab'.repeat(32));
  });

  it('old messages without attachments still replay', () => {
    const s = given([created, { type: 'MessagePosted', data: { messageId: 'm1', author: 'bob', text: 'hi', format: 'plain' } }]);
    expect(s.messages.get('m1')?.author).toBe('bob');
    expect(s.attachments).toBeUndefined();
  });
});
