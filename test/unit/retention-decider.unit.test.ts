/** Retention and erasure in the conversation decider, given/when/then: no I/O. */
import { describe, expect, it } from 'vitest';
import { ParleyError } from '../../protocol/index.js';
import {
  decide,
  decideExpiry,
  evolve,
  initialState,
  MAX_EXPIRED_PER_EVENT,
  redactEvent,
  redactionPatches,
  type ConversationCommand,
  type ConversationState,
} from '../../engine/domain/index.js';

type E = { type: string; data: unknown; at?: number };

function given(events: E[]): ConversationState {
  return events.reduce((s, e) => evolve(s, { type: e.type, data: e.data } as never, e.at ?? 0), initialState());
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

const created: E = { type: 'ConversationCreated', data: { title: 't', createdBy: 'alice', members: ['alice', 'bob', 'carol'] } };
const post = (id: string, author: string, at = 0): E => ({ type: 'MessagePosted', data: { messageId: id, author, text: `text of ${id}`, format: 'plain' }, at });
const edit = (id: string): E => ({ type: 'MessageBodyEdited', data: { messageId: id, update: 'AQ==', text: 'edited' } });
const adminCarol: E = { type: 'RoleChanged', data: { userId: 'carol', role: 'admin', changedBy: 'alice' } };

describe('SetRetention', () => {
  it('owners and admins set the period; members and guests may not', () => {
    const state = given([created, adminCarol]);
    expect(when(state, { type: 'SetRetention', periodSeconds: 60 })).toEqual([{ type: 'RetentionSet', data: { periodSeconds: 60, setBy: 'alice' } }]);
    expect(when(state, { type: 'SetRetention', periodSeconds: 60 }, 'carol')).toHaveLength(1);
    expect(codeOf(() => when(state, { type: 'SetRetention', periodSeconds: 60 }, 'bob'))).toBe('forbidden');
    expect(codeOf(() => when(state, { type: 'SetRetention', periodSeconds: 60 }, 'eve'))).toBe('forbidden');
  });

  it('setting the period it already has appends nothing; null keeps forever again', () => {
    const state = given([created, { type: 'RetentionSet', data: { periodSeconds: 60, setBy: 'alice' } }]);
    expect(state.retention.periodSeconds).toBe(60);
    expect(when(state, { type: 'SetRetention', periodSeconds: 60 })).toEqual([]);
    expect(when(state, { type: 'SetRetention', periodSeconds: null })).toEqual([{ type: 'RetentionSet', data: { periodSeconds: null, setBy: 'alice' } }]);
  });
});

describe('EraseMessage', () => {
  it('only the author erases; an admin or the owner may not (they have delete)', () => {
    const state = given([created, adminCarol, post('m1', 'bob')]);
    expect(when(state, { type: 'EraseMessage', messageId: 'm1' }, 'bob')).toEqual([{ type: 'MessageErased', data: { messageId: 'm1', erasedBy: 'bob' } }]);
    expect(codeOf(() => when(state, { type: 'EraseMessage', messageId: 'm1' }, 'alice'))).toBe('not_author');
    expect(codeOf(() => when(state, { type: 'EraseMessage', messageId: 'm1' }, 'carol'))).toBe('not_author');
  });

  it('an unknown message and erasing twice are coded errors', () => {
    const state = given([created, post('m1', 'bob'), { type: 'MessageErased', data: { messageId: 'm1', erasedBy: 'bob' } }]);
    expect(codeOf(() => when(state, { type: 'EraseMessage', messageId: 'nope' }, 'bob'))).toBe('message_not_found');
    expect(codeOf(() => when(state, { type: 'EraseMessage', messageId: 'm1' }, 'bob'))).toBe('message_erased');
  });

  it('a deleted message may still be erased (its content is in the log until then)', () => {
    const state = given([created, post('m1', 'bob'), { type: 'MessageDeleted', data: { messageId: 'm1', deletedBy: 'alice' } }]);
    expect(when(state, { type: 'EraseMessage', messageId: 'm1' }, 'bob')).toHaveLength(1);
  });

  it('names the post and every edit of the message as the events to rewrite, and nothing of others', () => {
    // seqs: 1 created, 2 m1, 3 m2, 4 edit m1, 5 edit m2, 6 edit m1
    const state = given([created, post('m1', 'bob'), post('m2', 'bob'), edit('m1'), edit('m2'), edit('m1')]);
    const decided = when(state, { type: 'EraseMessage', messageId: 'm1' }, 'bob');
    expect(redactionPatches(state, decided).map((p) => [p.seq, p.patch.redacted, 'update' in p.patch])).toEqual([
      [2, true, false],
      [4, true, true],
      [6, true, true],
    ]);
  });
});

describe('retention sweep (decideExpiry)', () => {
  const period: E = { type: 'RetentionSet', data: { periodSeconds: 10, setBy: 'alice' } };

  it('expires, in one event, the run of oldest messages posted before now minus the period', () => {
    // seqs: 1 created, 2 period, 3 m1 @1000, 4 m2 @2000, 5 m3 @9000
    const state = given([created, period, post('m1', 'bob', 1000), post('m2', 'bob', 2000), post('m3', 'bob', 9000)]);
    expect(decideExpiry(state, 15_000)).toEqual([{ type: 'MessagesExpired', data: { throughSeq: 4, olderThan: 5000 } }]);
    expect(decideExpiry(state, 1000)).toEqual([]);
  });

  it('a second sweep of the same moment decides nothing (another node raced it: a no-op)', () => {
    const state = given([created, period, post('m1', 'bob', 1000)]);
    const first = decideExpiry(state, 20_000);
    expect(first).toHaveLength(1);
    evolve(state, first[0]!, 20_000);
    expect(state.messages.get('m1')!.redacted).toBe(true);
    expect(decideExpiry(state, 20_000)).toEqual([]);
    expect(codeOf(() => when(state, { type: 'EraseMessage', messageId: 'm1' }, 'bob'))).toBe('message_erased');
  });

  it('keeps forever without a period, and after the period is set back to null', () => {
    expect(decideExpiry(given([created, post('m1', 'bob', 0)]), 1e12)).toEqual([]);
    const cleared = given([created, period, { type: 'RetentionSet', data: { periodSeconds: null, setBy: 'alice' } }, post('m1', 'bob', 0)]);
    expect(decideExpiry(cleared, 1e12)).toEqual([]);
  });

  it('a message with a younger clock ends the run: nothing after it expires early', () => {
    const state = given([created, period, post('m1', 'bob', 1000), post('m2', 'bob', 50_000), post('m3', 'bob', 1000)]);
    expect(decideExpiry(state, 20_000)).toEqual([{ type: 'MessagesExpired', data: { throughSeq: 3, olderThan: 10_000 } }]);
  });

  it('bounds one event to MAX_EXPIRED_PER_EVENT messages; the next sweep takes the rest', () => {
    const posts = Array.from({ length: MAX_EXPIRED_PER_EVENT + 5 }, (_, i) => post(`m${i}`, 'bob', 0));
    const state = given([created, period, ...posts]);
    const first = decideExpiry(state, 1e9);
    expect((first[0]!.data as { throughSeq: number }).throughSeq).toBe(2 + MAX_EXPIRED_PER_EVENT);
    expect(redactionPatches(state, first)).toHaveLength(MAX_EXPIRED_PER_EVENT);
    evolve(state, first[0]!, 1e9);
    const second = decideExpiry(state, 1e9);
    expect(second).toEqual([{ type: 'MessagesExpired', data: { throughSeq: 2 + MAX_EXPIRED_PER_EVENT + 5, olderThan: 1e9 - 10_000 } }]);
    expect(redactionPatches(state, second)).toHaveLength(5);
  });

  it('an erased message is not rewritten again by a later expiry', () => {
    const state = given([created, period, post('m1', 'bob', 0), post('m2', 'bob', 0), { type: 'MessageErased', data: { messageId: 'm1', erasedBy: 'bob' } }]);
    const decided = decideExpiry(state, 1e9);
    expect(redactionPatches(state, decided).map((p) => p.seq)).toEqual([4]);
  });
});

describe('redactEvent', () => {
  it('keeps ids, author and thread, removes text, mentions and attachments, marks it', () => {
    const e = {
      type: 'MessagePosted',
      seq: 3,
      data: { messageId: 'm', author: 'bob', text: 'secret', format: 'plain', threadRootId: 'r', mentions: ['alice'], attachments: [{ attachmentId: 'a' }] },
    };
    expect(redactEvent(e)).toEqual({ type: 'MessagePosted', seq: 3, data: { messageId: 'm', author: 'bob', text: '', format: 'plain', threadRootId: 'r', redacted: true } });
    expect(e.data.text).toBe('secret');
    expect(redactEvent({ type: 'MessageBodyEdited', data: { messageId: 'm', update: 'AQ==', text: 'x' } }).data).toEqual({ messageId: 'm', update: '', text: '', redacted: true });
    const other = { type: 'ReactionAdded', data: { messageId: 'm', userId: 'u', emoji: '👍' } };
    expect(redactEvent(other)).toBe(other);
  });
});
