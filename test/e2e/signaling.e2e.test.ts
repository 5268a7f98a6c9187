/**
 * The y-webrtc signaling endpoint over real sockets on a real node: who may join a
 * document's topic (the sync write rule), what a refused or removed user learns (nothing of
 * the peers), and the bounds (sockets per user, topics per socket, frame size, rate).
 * "Learned nothing" is proved with the ping sentinel: the pong comes after anything the
 * node relayed to that socket before it (signaling-client.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { docNames } from '../../protocol/index.js';
import { syncExtension, type SyncExtension } from '../../sync/index.js';
import type { StartNodeOptions } from '../../engine/index.js';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { startTestNode, tokenFor, type TestNode } from '../helpers/node.js';
import { connectSignaling, type SignalingTestClient } from '../helpers/signaling-client.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function node(options: StartNodeOptions = {}): Promise<{ node: TestNode; sync: SyncExtension }> {
  const sync = syncExtension();
  const n = await startTestNode({ extensions: [sync], ...options });
  cleanups.push(() => n.destroy());
  return { node: n, sync };
}

async function conversation(n: TestNode, creator: string, members: string[]): Promise<string> {
  const r = await api(n.url, tokenFor(creator)).post('/v1/conversations', { title: 't', members });
  expect(r.status).toBe(201);
  return r.body.id;
}

async function peer(n: TestNode, user: string | undefined, token = user && tokenFor(user)): Promise<SignalingTestClient> {
  const c = await connectSignaling(n.url, token);
  cleanups.push(() => c.ws.close());
  return c;
}

/** Joins `topic` and waits until the node has handled it (the refusal, if any, arrives before the pong). */
async function join(c: SignalingTestClient, topic: string): Promise<string | null> {
  const from = c.frames.length;
  c.send({ type: 'subscribe', topics: [topic] });
  const until = await c.settle();
  const refused = c.frames.slice(from, until).find((f) => f.type === 'refused' && f.topic === topic);
  return refused?.code ?? null;
}

const announce = (topic: string, from: string) => ({ type: 'publish', topic, data: { type: 'announce', from } });

describe('signaling endpoint', () => {
  it('closes a socket without a valid token with 4401', async () => {
    const { node: n } = await node();
    for (const token of [undefined, 'not-a-token', tokenFor('alice', { ttlSeconds: -10 })]) {
      const c = await peer(n, undefined, token);
      expect(await c.closed).toEqual({ code: 4401, reason: 'unauthorized' });
    }
  });

  it('relays a publish to the members who joined the document, and a non-member learns of no peer', async () => {
    const { node: n, sync } = await node();
    const c = await conversation(n, 'alice', ['bob']);
    const topic = docNames.notes(c);
    const [alice, bob, mallory] = await Promise.all([peer(n, 'alice'), peer(n, 'bob'), peer(n, 'mallory')]);
    expect(await join(alice, topic)).toBeNull();
    expect(await join(bob, topic)).toBeNull();
    expect(await join(mallory, topic)).toBe('forbidden');
    expect(await join(mallory, docNames.draft('alice', c))).toBe('forbidden');
    expect(await join(bob, docNames.draft('alice', c))).toBe('forbidden');
    // A message body takes its one writer only: peers' direct updates never pass the node's check.
    const m = (await api(n.url, tokenFor('alice')).post(`/v1/conversations/${c}/messages`, { clientMessageId: crypto.randomUUID(), text: 'x' })).body.messageId;
    expect(await join(bob, docNames.messageBody(c, m))).toBe('not_author');
    expect(await join(alice, docNames.messageBody(c, m))).toBeNull();
    expect(sync.signaling!.topicsOf('mallory')).toEqual([]);

    alice.send(announce(topic, 'peer-alice'));
    const got = await bob.next((f) => f.type === 'publish');
    expect(got).toEqual({ type: 'publish', topic, data: { type: 'announce', from: 'peer-alice' }, clients: 2 });
    const until = await mallory.settle();
    expect(mallory.frames.slice(0, until).filter((f) => f.type === 'publish')).toEqual([]);

    // Publishing to a topic it did not join relays nothing: bob's next publish is alice's sentinel.
    const bobFrom = bob.frames.length;
    mallory.send(announce(topic, 'peer-mallory'));
    await mallory.settle();
    alice.send(announce(topic, 'sentinel'));
    expect((await bob.next((f) => f.type === 'publish', bobFrom)).data.from).toBe('sentinel');
  });

  it('refuses names that are not a canonical document name, and survives frames that are not signaling', async () => {
    const { node: n } = await node();
    const c = await conversation(n, 'alice', []);
    const alice = await peer(n, 'alice');
    expect(await join(alice, `notes:${c}:x`)).toBe('invalid_request');
    expect(await join(alice, '__proto__')).toBe('invalid_request');
    for (const junk of ['{', 'null', '[]', '{"type":"subscribe","topics":[1]}', '{"type":"publish"}', '{"type":"constructor"}']) alice.send(junk);
    alice.ws.send(Buffer.from([1, 2, 3]));
    await alice.settle();
    expect(await join(alice, docNames.notes(c))).toBeNull();
  });

  it('drops a removed member from the conversation\'s topics at once', async () => {
    const { node: n, sync } = await node();
    const c = await conversation(n, 'alice', ['bob']);
    const topic = docNames.notes(c);
    const [alice, bob] = await Promise.all([peer(n, 'alice'), peer(n, 'bob')]);
    expect(await join(alice, topic)).toBeNull();
    expect(await join(bob, topic)).toBeNull();

    expect((await api(n.url, tokenFor('alice')).delete(`/v1/conversations/${c}/members/bob`)).status).toBeLessThan(300);
    expect(await bob.next((f) => f.type === 'refused')).toEqual({ type: 'refused', topic, code: 'forbidden' });
    expect(sync.signaling!.topicsOf('bob')).toEqual([]);

    const from = bob.frames.length;
    alice.send(announce(topic, 'after-removal'));
    expect((await alice.next((f) => f.type === 'publish' && f.data?.from === 'after-removal')).clients).toBe(1);
    const until = await bob.settle();
    expect(bob.frames.slice(from, until).filter((f) => f.type === 'publish')).toEqual([]);
    expect(await join(bob, topic)).toBe('forbidden');
  });

  it('drops a deleted message\'s topic for everyone in it', async () => {
    const { node: n, sync } = await node();
    const c = await conversation(n, 'alice', ['bob']);
    const post = () => api(n.url, tokenFor('alice')).post(`/v1/conversations/${c}/messages`, { clientMessageId: crypto.randomUUID(), text: 'x' });
    const [kept, deleted] = [(await post()).body.messageId, (await post()).body.messageId];
    const [phone, laptop] = await Promise.all([peer(n, 'alice'), peer(n, 'alice')]);
    for (const device of [phone, laptop]) {
      for (const m of [kept, deleted]) expect(await join(device, docNames.messageBody(c, m))).toBeNull();
    }
    expect((await api(n.url, tokenFor('alice')).delete(`/v1/conversations/${c}/messages/${deleted}`)).status).toBeLessThan(300);
    const topic = docNames.messageBody(c, deleted);
    for (const device of [phone, laptop]) expect(await device.next((f) => f.type === 'refused')).toEqual({ type: 'refused', topic, code: 'message_deleted' });
    expect(sync.signaling!.topicsOf('alice')).toEqual([docNames.messageBody(c, kept)]);
    expect(await join(phone, topic)).toBe('message_deleted');
  });

  it('bounds sockets per user and topics per socket', async () => {
    const { node: n } = await node({ maxSocketsPerUser: 2, maxSubscriptionsPerSocket: 2 });
    const c = await conversation(n, 'alice', []);
    const m1 = (await api(n.url, tokenFor('alice')).post(`/v1/conversations/${c}/messages`, { clientMessageId: crypto.randomUUID(), text: 'x' })).body.messageId;
    const [first, second] = [await peer(n, 'alice'), await peer(n, 'alice')];
    await Promise.all([first.settle(), second.settle()]); // counted once their tokens are checked
    const third = await peer(n, 'alice');
    expect(await third.closed).toEqual({ code: 4503, reason: 'limit_exceeded' });

    expect(await join(first, docNames.notes(c))).toBeNull();
    expect(await join(first, docNames.messageBody(c, m1))).toBeNull();
    expect(await join(first, docNames.draft('alice', c))).toBe('limit_exceeded');
    // A frame naming more topics than a socket may hold is not a signaling frame at all.
    first.send({ type: 'unsubscribe', topics: ['a', 'b', 'c'] });
    first.send({ type: 'unsubscribe', topics: [docNames.notes(c)] });
    expect(await join(first, docNames.draft('alice', c))).toBeNull();
  });

  it('closes a socket that sends a frame over the node\'s frame size or floods past its rate', async () => {
    const { node: n } = await node({ maxFrameBytes: 4096, rateLimitPerConnection: { perSecond: 1, burst: 20 } });
    const c = await conversation(n, 'alice', []);
    const big = await peer(n, 'alice');
    expect(await join(big, docNames.notes(c))).toBeNull();
    big.send(announce(docNames.notes(c), 'x'.repeat(8192)));
    expect((await big.closed).code).toBe(1009);

    const flood = await peer(n, 'alice');
    for (let i = 0; i < 100; i++) flood.send({ type: 'ping' });
    expect(await flood.closed).toEqual({ code: 4503, reason: 'rate_limited' });
    await eventually(async () => {
      const metrics = await api(n.url).raw('GET', '/metrics', undefined, { authorization: 'Bearer test-metrics-scrape-token' });
      expect(String(metrics.body)).toMatch(/^parley_signaling_sockets{[^}]*} 0$/m);
    });
  });
});
