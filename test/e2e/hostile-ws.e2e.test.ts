/**
 * `/v1/ws` against hostile clients: no frame takes the node down, a removed member reads
 * nothing after their removal, and one subscribe frame cannot make the node hold or send
 * more than one catch-up per conversation (issue 10, defects 1, 3 and 4).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLOSE, type ServerFrame } from '../../protocol/index.js';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { startTestNode, tokenFor, type TestNode } from '../helpers/node.js';
import { connectWs, type TestSocket } from '../helpers/ws-client.js';
import { postMany } from '../helpers/bulk-post.js';

const NO_LIMIT = { perSecond: 0, burst: 0 };
let node: TestNode;

beforeAll(async () => {
  node = await startTestNode({
    maxSubscriptionsPerSocket: 3,
    maxSubscriptionsPerUser: 5,
    maxSubscribeEntries: 100,
    maxSendBufferBytes: 256 * 1024,
    rateLimitPerConnection: NO_LIMIT,
    rateLimitPerUser: NO_LIMIT,
  });
});
afterAll(async () => {
  await node.destroy();
});

async function conversation(members: string[], title = 'Hostile'): Promise<string> {
  const reply = await api(node.url, tokenFor('alice')).post('/v1/conversations', { title, members });
  expect(reply.status).toBe(201);
  return reply.body.id;
}

/** Posts `count` messages of about `bytes` each as alice; resolves with the last seq. */
function post(conversationId: string, count: number, bytes: number, tag: string): Promise<number> {
  return postMany(node.url, 'alice', conversationId, count, bytes, tag);
}

const seqsOf = (frames: ServerFrame[], id: string) =>
  frames.flatMap((f) => (f.type === 'event' && f.event.conversationId === id ? [f.event.seq] : []));

/** Everything the node sent before this pong has arrived: frames on one socket keep their order. */
async function roundTrip(s: TestSocket, id: string): Promise<void> {
  s.send({ type: 'ping', id });
  await s.next((f) => f.type === 'pong' && f.id === id, 20_000);
}

describe('frames nested thousands deep', () => {
  const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
  const deepObject = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);

  it('get a coded error, the socket stays open and the node stays up', async () => {
    const s = await connectWs(node.url, tokenFor('mallory'));
    await s.next((f) => f.type === 'ready');
    const cases: Array<[string, string[]]> = [
      // The frame of the report: 12,009 bytes, its type an array nested 6,000 deep.
      [`{"type":${deep(6000)}}`, ['unknown_command']],
      [`{"type":${deepObject(5000)}}`, ['unknown_command']],
      [`{"type":"command","id":"d1","command":{"type":${deep(6000)}}}`, ['unknown_command']],
      [`{"type":"command","id":"d2","command":${deep(6000)}}`, ['invalid_request', 'unknown_command']],
      [`{"type":"command","id":"d3","command":{"type":"PostMessage","conversationId":${deep(6000)},"text":"x"}}`, ['invalid_request']],
      [`{"type":"ping","id":${deep(6000)}}`, ['invalid_request']],
      [`{"type":"subscribe","conversations":[{"conversationId":"c","afterSeq":${deep(6000)}}]}`, ['invalid_request']],
      [`{"type":"subscribe","conversations":${deep(6000)}}`, ['invalid_request']],
      [`{"type":"typing","conversationId":"c","extra":${deepObject(5000)}}`, ['invalid_request']],
      // As deep as a frame under the 64 KiB limit can go.
      [`{"type":${deep(32_000)}}`, ['unknown_command', 'invalid_json']],
    ];
    for (const [payload, codes] of cases) {
      const from = s.frames.length;
      s.send(payload);
      const error = await s.next((f) => f.type === 'error', 5000, from);
      expect(codes, payload.slice(0, 80)).toContain((error as { code: string }).code);
      // The message names the value by kind, never by serializing it.
      expect((error as { message: string }).message.length).toBeLessThan(300);
    }
    await roundTrip(s, 'still-open');
    expect((await api(node.url).get('/health')).status).toBe(200);
    s.close();
  });

  it('as the first frame of a token-less socket: refused with 4401, the node stays up', async () => {
    const s = await connectWs(node.url, undefined, { via: 'frame' });
    s.send(`{"type":${deep(6000)},"token":${deep(6000)}}`);
    expect((await s.closed).code).toBe(CLOSE.unauthorized);
    expect((await api(node.url).get('/health')).status).toBe(200);
  });

  it('a catch-up that fails unexpectedly is answered `internal` for that conversation, and the node stays up', async () => {
    const id = await conversation(['bob'], 'Failing store');
    const original = node.store.streamVersion.bind(node.store);
    node.store.streamVersion = async () => {
      throw new Error('disk on fire');
    };
    try {
      const b = await connectWs(node.url, tokenFor('bob'));
      b.send({ type: 'subscribe', conversations: [{ conversationId: id, afterSeq: 0 }] });
      expect(await b.next((f) => f.type === 'error')).toMatchObject({ code: 'internal', conversationId: id });
      node.store.streamVersion = original;
      // The failed subscription was dropped: subscribing again works.
      b.send({ type: 'subscribe', conversations: [{ conversationId: id, afterSeq: 0 }] });
      await b.next((f) => f.type === 'caught-up');
      b.close();
    } finally {
      node.store.streamVersion = original;
    }
  });
});

describe('a removed member', () => {
  it('never receives an event from after their removal, even with a catch-up paced by their own slow reading', async () => {
    const id = await conversation(['bob'], 'Removal');
    // About 8 MiB: more than the kernel's socket buffers take for a reader that does not read.
    const before = await post(id, 700, 12 * 1024, 'big');
    const bob = await connectWs(node.url, tokenFor('bob'));
    await bob.next((f) => f.type === 'ready');
    // Bob stops reading, then subscribes from the start: the catch-up fills his socket and waits.
    (bob.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    bob.send({ type: 'subscribe', conversations: [{ conversationId: id, afterSeq: 0 }] });
    await eventually(() => expect([...node.app.websocketServer.clients].some((c) => c.bufferedAmount > 0)).toBe(true), 20_000);
    const alice = await connectWs(node.url, tokenFor('alice'));
    const removed = await alice.command('remove-bob', { type: 'RemoveMember', conversationId: id, userId: 'bob' });
    expect(removed).toMatchObject({ type: 'ack' });
    const removalSeq = (removed as { result: { seq: number } }).result.seq;
    expect(removalSeq).toBe(before + 1);
    const sentinel = await alice.command('sentinel', { type: 'PostMessage', conversationId: id, text: 'after bob left' });
    expect(sentinel).toMatchObject({ type: 'ack' });
    (bob.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    // He is told his subscription ended (or sees his own removal), and nothing after it.
    await bob.next(
      (f) => (f.type === 'error' && f.conversationId === id) || (f.type === 'event' && f.event.type === 'MemberLeft'),
      30_000,
    );
    await roundTrip(bob, 'after-removal');
    const seqs = seqsOf(bob.frames, id);
    expect(Math.max(...seqs)).toBeLessThanOrEqual(removalSeq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    // And posting goes on without him.
    await alice.command('later', { type: 'PostMessage', conversationId: id, text: 'later' });
    await roundTrip(bob, 'later');
    expect(Math.max(...seqsOf(bob.frames, id))).toBeLessThanOrEqual(removalSeq);
    alice.close();
    bob.close();
  }, 60_000);
});

describe('one subscribe frame', () => {
  it('naming one conversation 800 times catches it up once, and the node stays small and responsive', async () => {
    const id = await conversation(['bob'], 'Duplicates');
    const head = await post(id, 600, 200, 'dup');
    const rssBefore = process.memoryUsage().rss;
    const bob = await connectWs(node.url, tokenFor('bob'));
    const entries = Array.from({ length: 800 }, () => ({ conversationId: id, afterSeq: 0 }));
    bob.send({ type: 'subscribe', conversations: entries });
    bob.send({ type: 'subscribe', conversations: entries });
    // Someone else is served meanwhile.
    const alice = await connectWs(node.url, tokenFor('alice'));
    expect(await alice.command('meanwhile', { type: 'PostMessage', conversationId: id, text: 'meanwhile' })).toMatchObject({ type: 'ack' });
    await eventually(() => expect(bob.frames.filter((f) => f.type === 'caught-up')).toHaveLength(1), 20_000);
    await roundTrip(bob, 'dup-done');
    const seqs = seqsOf(bob.frames, id);
    const rssGrowth = process.memoryUsage().rss - rssBefore;
    console.log(`800 duplicate entries × 2 frames: ${seqs.length} events sent for a ${head + 1}-event conversation; RSS growth ${(rssGrowth / 2 ** 20).toFixed(1)} MiB`);
    // The second frame replaced the first subscription and stopped its catch-up: at most
    // one partial catch-up, then one whole one — never 1,600.
    expect(seqs.length).toBeLessThan(2 * (head + 1) + 1);
    const whole = seqs.slice(seqs.lastIndexOf(1));
    expect(whole).toEqual(Array.from({ length: head + 1 }, (_, i) => i + 1));
    expect(rssGrowth).toBeLessThan(150 * 2 ** 20);
    alice.close();
    bob.close();
  }, 60_000);

  it('naming more distinct conversations than allowed is refused with limit_exceeded', async () => {
    const s = await connectWs(node.url, tokenFor('bob'));
    s.send({ type: 'subscribe', conversations: Array.from({ length: 101 }, (_, i) => ({ conversationId: `c${i}`, afterSeq: 0 })) });
    expect(await s.next((f) => f.type === 'error')).toMatchObject({ code: 'limit_exceeded' });
    s.close();
  });

  it('subscriptions are bounded per socket and per user; unsubscribing frees a place; replacing takes none', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(await conversation(['dave'], `Bound ${i}`));
    const one = await connectWs(node.url, tokenFor('dave'));
    one.send({ type: 'subscribe', conversations: ids.slice(0, 4).map((conversationId) => ({ conversationId, afterSeq: 0 })) });
    expect(await one.next((f) => f.type === 'error')).toMatchObject({ code: 'limit_exceeded', conversationId: ids[3] });
    await eventually(() => expect(one.frames.filter((f) => f.type === 'caught-up')).toHaveLength(3));
    // Subscribing again to one it has replaces it, within the bound.
    one.send({ type: 'subscribe', conversations: [{ conversationId: ids[0]!, afterSeq: 0 }] });
    await eventually(() => expect(one.frames.filter((f) => f.type === 'caught-up')).toHaveLength(4));
    expect(one.frames.filter((f) => f.type === 'error')).toHaveLength(1);
    // The user's bound (5) counts every socket.
    const two = await connectWs(node.url, tokenFor('dave'));
    two.send({ type: 'subscribe', conversations: ids.slice(3, 6).map((conversationId) => ({ conversationId, afterSeq: 0 })) });
    expect(await two.next((f) => f.type === 'error')).toMatchObject({ code: 'limit_exceeded', conversationId: ids[5] });
    await eventually(() => expect(two.frames.filter((f) => f.type === 'caught-up')).toHaveLength(2));
    one.send({ type: 'unsubscribe', conversationIds: [ids[0]!] });
    await roundTrip(one, 'unsubscribed');
    two.send({ type: 'subscribe', conversations: [{ conversationId: ids[5]!, afterSeq: 0 }] });
    await eventually(() => expect(two.frames.filter((f) => f.type === 'caught-up')).toHaveLength(3));
    // A closed socket gives its places back.
    one.close();
    await one.closed;
    const three = await connectWs(node.url, tokenFor('dave'));
    await eventually(async () => {
      const from = three.frames.length;
      three.send({ type: 'subscribe', conversations: [{ conversationId: ids[0]!, afterSeq: 0 }] });
      await three.next((f) => f.type === 'caught-up' || f.type === 'error', 5000, from);
      expect(three.frames.filter((f) => f.type === 'caught-up')).toHaveLength(1);
    });
    two.close();
    three.close();
  });
});
