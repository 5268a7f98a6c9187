/** client-lib's pure parts: backoff, the message model and optimistic view, the outbox (FileStorage: test/int/file-storage.int.test.ts). */
import { describe, expect, it } from 'vitest';
import type { WireEvent } from '../../protocol/index.js';
import { backoffDelay } from '../../client-lib/backoff.js';
import { localIdFor } from '../../client-lib/ids.js';
import { applyEvent, mergeHistory, viewOf, type Message } from '../../client-lib/messages.js';
import { Outbox } from '../../client-lib/outbox.js';
import { MemoryStorage } from '../../client-lib/storage.js';

const posted = (seq: number, text: string, commandId = `c${seq}`): WireEvent => ({
  conversationId: 'c',
  seq,
  position: seq,
  id: `e${seq}`,
  type: 'MessagePosted',
  data: { messageId: `m${seq}`, author: 'bob', text, format: 'plain' },
  actor: 'bob',
  at: 1000 + seq,
  commandId,
});

describe('backoff', () => {
  it('grows exponentially with jitter inside [window/2, window] and stays under the cap', () => {
    expect(backoffDelay(0, { initialMs: 100 }, () => 0)).toBe(50);
    expect(backoffDelay(0, { initialMs: 100 }, () => 1)).toBe(100);
    expect(backoffDelay(3, { initialMs: 100 }, () => 1)).toBe(800);
    expect(backoffDelay(50, { initialMs: 100, maxMs: 5000 }, () => 1)).toBe(5000);
  });
});

describe('messages', () => {
  it('applies events idempotently and in seq order', () => {
    let m: Message[] = [];
    for (const e of [posted(3, 'c'), posted(1, 'a'), posted(3, 'c'), posted(2, 'b')]) m = applyEvent(m, e);
    expect(m.map((x) => x.text)).toEqual(['a', 'b', 'c']);
    const react: WireEvent = { ...posted(4, ''), type: 'ReactionAdded', data: { messageId: 'm1', userId: 'al', emoji: '👍' } };
    m = applyEvent(applyEvent(m, react), react);
    expect(m[0]!.reactions).toEqual({ '👍': ['al'] });
    const edited = { ...posted(5, ''), type: 'MessageBodyEdited', data: { messageId: 'm2', update: 'AA==', text: 'b, edited' } } as unknown as WireEvent;
    m = applyEvent(m, edited);
    expect(m.map((x) => x.text)).toEqual(['a', 'b, edited', 'c']);
  });

  it('merges history pages by seq, the server state winning', () => {
    const m = mergeHistory(applyEvent([], posted(2, 'b')), [
      { seq: 1, messageId: 'm1', author: 'bob', text: 'a', format: 'plain', sentAt: new Date(0).toISOString(), reactions: {}, deleted: false },
      { seq: 2, messageId: 'm2', author: 'bob', text: '', format: 'plain', sentAt: new Date(0).toISOString(), reactions: {}, deleted: true },
    ]);
    expect(m.map((x) => [x.seq, x.deleted, x.commandId])).toEqual([[1, false, undefined], [2, true, 'c2']]);
  });

  it('shows pending posts after confirmed ones and drops them once their event arrived', () => {
    const confirmed = applyEvent([], posted(1, 'a'));
    const pending = [
      { id: 'p1', command: { type: 'PostMessage' as const, conversationId: 'c', text: 'mine' }, createdAt: 5 },
      { id: 'p2', command: { type: 'AddReaction' as const, conversationId: 'c', messageId: localIdFor('p1'), emoji: '🎉' }, createdAt: 6 },
      { id: 'p3', command: { type: 'DeleteMessage' as const, conversationId: 'c', messageId: 'm1' }, createdAt: 7 },
    ];
    const v = viewOf(confirmed, pending, 'al', (id) => (id.startsWith('local:') ? undefined : id));
    expect(v.map((x) => [x.text, x.pending, x.deleted, x.seq])).toEqual([['', true, true, 1], ['mine', true, false, undefined]]);
    expect(v[1]!.reactions).toEqual({ '🎉': ['al'] });
    const after = viewOf(applyEvent(confirmed, { ...posted(2, 'mine', 'p1') }), pending.slice(0, 1), 'al', (id) => id);
    expect(after.map((x) => [x.text, x.pending])).toEqual([['a', false], ['mine', false]]);
  });
});

describe('outbox', () => {
  it('persists before resolving, rewrites local ids after the creating ack, and survives a reload', async () => {
    const storage = new MemoryStorage();
    const box = new Outbox(storage);
    await box.load();
    await box.add({ id: 'k1', command: { type: 'CreateConversation', title: 't', members: [] }, createdAt: 1 });
    await box.add({ id: 'k2', command: { type: 'PostMessage', conversationId: localIdFor('k1'), text: 'x' }, createdAt: 2 });
    expect(box.resolved(box.items.get()[1]!.command)).toBeUndefined();
    expect(box.dependentsOf(localIdFor('k1')).map((i) => i.id)).toEqual(['k2']);
    await box.settle('k1', { conversationId: 'srv', seq: 1 });
    const again = new Outbox(storage);
    await again.load();
    expect(again.items.get().map((i) => i.id)).toEqual(['k2']);
    expect(again.resolved(again.items.get()[0]!.command)).toEqual({ type: 'PostMessage', conversationId: 'srv', text: 'x' });
  });
});
