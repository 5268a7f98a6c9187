/** Gap-free catch-up after a reconnect: everything after the client's last seq, in order, or an explicit `behind`. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerFrame } from '../../protocol/index.js';
import { api } from '../helpers/http.js';
import { startTestNode, tokenFor, type TestNode } from '../helpers/node.js';
import { connectWs } from '../helpers/ws-client.js';

let node: TestNode;
beforeAll(async () => {
  node = await startTestNode({ catchUpLimit: 500, rateLimitPerConnection: { perSecond: 0, burst: 0 }, rateLimitPerUser: { perSecond: 0, burst: 0 } });
});
afterAll(async () => {
  await node.destroy();
});

const seqsOf = (frames: ServerFrame[], id: string) =>
  frames.flatMap((f) => (f.type === 'event' && f.event.conversationId === id ? [f.event.seq] : []));

async function conversationWith(messages: number): Promise<string> {
  const alice = api(node.url, tokenFor('alice'));
  const { body: c } = await alice.post('/v1/conversations', { title: 'Catch-up', members: ['bob'] });
  const s = await connectWs(node.url, tokenFor('alice'));
  await Promise.all(Array.from({ length: messages }, (_, i) => s.command(`${c.id}-${i}`, { type: 'PostMessage', conversationId: c.id, text: `m${i}` })));
  s.close();
  return c.id;
}

describe('catch-up', () => {
  it('sends exactly the events after the given seq, in order, then caught-up', async () => {
    const id = await conversationWith(120);
    const b = await connectWs(node.url, tokenFor('bob'));
    b.send({ type: 'subscribe', conversations: [{ conversationId: id, afterSeq: 37 }] });
    const done = await b.next((f) => f.type === 'caught-up');
    expect(done).toEqual({ type: 'caught-up', conversationId: id, seq: 121 });
    expect(seqsOf(b.frames, id)).toEqual(Array.from({ length: 84 }, (_, i) => 38 + i));
    // Catch-up comes in pages, one frame each, not one frame per event.
    expect(b.types.filter((t) => t === 'events')).toHaveLength(1);
    expect(b.types.filter((t) => t === 'event')).toHaveLength(0);
    b.close();
  });

  it('loses nothing and duplicates nothing when messages keep arriving during the catch-up', async () => {
    // 200 + 200 stays under the catch-up limit (500) however the subscribe and the writes
    // interleave: on a loaded machine all the writes can land before the subscribe is read,
    // and a head past the limit is rightly answered with `behind` instead of a catch-up.
    const id = await conversationWith(200);
    const writer = await connectWs(node.url, tokenFor('alice'));
    const reader = await connectWs(node.url, tokenFor('bob'));
    reader.send({ type: 'subscribe', conversations: [{ conversationId: id, afterSeq: 0 }] });
    const more = Promise.all(
      Array.from({ length: 200 }, (_, i) => writer.command(`live-${i}`, { type: 'PostMessage', conversationId: id, text: `live ${i}` })),
    );
    await more;
    await reader.next((f) => f.type === 'event' && f.event.seq === 401, 10_000);
    expect(seqsOf(reader.frames, id)).toEqual(Array.from({ length: 401 }, (_, i) => i + 1));
    writer.close();
    reader.close();
  });

  it('tells a client that is too far behind to page, and continues live after the head', async () => {
    const id = await conversationWith(600);
    const b = await connectWs(node.url, tokenFor('bob'));
    b.send({ type: 'subscribe', conversations: [{ conversationId: id, afterSeq: 3 }] });
    expect(await b.next((f) => f.type === 'behind')).toEqual({ type: 'behind', conversationId: id, afterSeq: 3, headSeq: 601 });
    await b.next((f) => f.type === 'caught-up');
    expect(seqsOf(b.frames, id)).toEqual([]);
    const page = await api(node.url, tokenFor('bob')).get(`/v1/conversations/${id}/messages?after=3&limit=1000`);
    expect(page.body.messages.map((m: { seq: number }) => m.seq)).toEqual(Array.from({ length: 598 }, (_, i) => i + 4));
    const a = await connectWs(node.url, tokenFor('alice'));
    await a.command('after-behind', { type: 'PostMessage', conversationId: id, text: 'live again' });
    await b.next((f) => f.type === 'event' && f.event.seq === 602);
    a.close();
    b.close();
  });
});
