/** client-lib's message model under erasure and retention: redacted messages keep their place, lose their content. */
import { describe, expect, it } from 'vitest';
import type { WireEvent } from '../../protocol/index.js';
import { applyEvent, type Message } from '../../client-lib/messages.js';

const envelope = (seq: number) => ({ conversationId: 'c', seq, position: seq, id: `e${seq}`, actor: 'bob', at: 1000 + seq, commandId: `c${seq}` });
const posted = (seq: number, text: string): WireEvent =>
  ({ ...envelope(seq), type: 'MessagePosted', data: { messageId: `m${seq}`, author: 'bob', text, format: 'plain', attachments: [{ id: 'a', name: 'f', type: 't', size: 1 }] } }) as WireEvent;
const event = (seq: number, type: string, data: unknown) => ({ ...envelope(seq), type, data }) as WireEvent;

function apply(events: WireEvent[]): Message[] {
  return events.reduce<Message[]>((m, e) => applyEvent(m, e), []);
}

describe('client-lib: erased and expired messages', () => {
  it('an erasure blanks that message and drops its attachments; later edits do not bring text back', () => {
    const list = apply([
      posted(1, 'secret'),
      posted(2, 'kept'),
      event(3, 'ReactionAdded', { messageId: 'm1', userId: 'alice', emoji: '👍' }),
      event(4, 'MessageErased', { messageId: 'm1', erasedBy: 'bob' }),
      event(5, 'MessageBodyEdited', { messageId: 'm1', update: '', text: 'late edit' }),
    ]);
    expect(list[0]).toMatchObject({ seq: 1, text: '', redacted: true, deleted: false });
    expect(list[0]!.attachments).toBeUndefined();
    expect(list[0]!.reactions['👍']).toEqual(['alice']);
    expect(list[1]).toMatchObject({ text: 'kept' });
    expect(list[1]!.redacted).toBeUndefined();
  });

  it('an expiry blanks every message at or before its seq, and an event replayed after it stays blank', () => {
    const list = apply([posted(1, 'one'), posted(2, 'two'), posted(3, 'three'), event(4, 'MessagesExpired', { throughSeq: 2, olderThan: 0 }), posted(2, 'two')]);
    expect(list.map((m) => [m.text, m.redacted ?? false])).toEqual([
      ['', true],
      ['', true],
      ['three', false],
    ]);
    expect(list[1]!.attachments).toBeUndefined();
  });
});
