/**
 * Live events that commit together reach a socket as one `events` frame (one write) per
 * conversation: a burst of posts pipelined into shared commits arrives at every subscriber
 * in order and without gaps or repeats, as text frames; a subscriber that joins mid-burst
 * gets the rest of a batch it partly has; a member removed mid-burst gets everything up to
 * their removal and nothing after it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientFrame, WireEvent } from '../../protocol/index.js';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { startTestNode, tokenFor, type TestNode } from '../helpers/node.js';
import { connectWs, type TestSocket } from '../helpers/ws-client.js';

const NO_LIMIT = { perSecond: 0, burst: 0 };
const POSTS = 300;
let node: TestNode;

beforeAll(async () => {
  node = await startTestNode({ rateLimitPerConnection: NO_LIMIT, rateLimitPerUser: NO_LIMIT });
});
afterAll(async () => {
  await node.destroy();
});

const seqsOf = (s: TestSocket, conversationId: string) =>
  s.frames.flatMap((f) => (f.type === 'event' && f.event.conversationId === conversationId ? [f.event.seq] : []));

async function subscribed(user: string, conversationId: string): Promise<TestSocket> {
  const s = await connectWs(node.url, tokenFor(user));
  await s.next((f) => f.type === 'ready');
  s.send({ type: 'subscribe', conversations: [{ conversationId, afterSeq: 0 }] });
  await s.next((f) => f.type === 'caught-up' && f.conversationId === conversationId);
  return s;
}

describe('live events committed together', () => {
  it('arrive in one frame per batch, in order and gap-free, at every subscriber', async () => {
    const { body: c } = await api(node.url, tokenFor('alice')).post('/v1/conversations', { title: 'Burst', members: ['bob', 'carol'] });
    const alice = await subscribed('alice', c.id);
    const bob = await subscribed('bob', c.id);
    const carol = await subscribed('carol', c.id);
    const binary: boolean[] = [];
    bob.ws.on('message', (_data, isBinary) => binary.push(isBinary));
    const firstSeq = Math.max(...seqsOf(bob, c.id)) + 1;
    const bobFramesBefore = bob.types.length;

    // All posts at once over one socket: they are decided one after the other and share commits.
    const acks: Array<Promise<unknown>> = [];
    let late: TestSocket | undefined;
    for (let i = 0; i < POSTS; i++) {
      const id = `burst-${i}`;
      acks.push(alice.next((f) => (f.type === 'ack' || f.type === 'error') && f.id === id, 30_000));
      alice.send({ type: 'command', id, command: { type: 'PostMessage', conversationId: c.id, text: `burst ${i}` } } as ClientFrame);
      if (i === POSTS / 2) {
        // Carol is removed mid-burst; a second socket of bob's joins mid-burst.
        acks.push(alice.command('remove-carol', { type: 'RemoveMember', conversationId: c.id, userId: 'carol' }));
        late = await connectWs(node.url, tokenFor('bob'));
        await late.next((f) => f.type === 'ready');
        late.send({ type: 'subscribe', conversations: [{ conversationId: c.id, afterSeq: 0 }] });
      }
    }
    const answers = await Promise.all(acks);
    expect(answers.every((a) => (a as { type: string }).type === 'ack')).toBe(true);
    const lastSeq = firstSeq + POSTS; // the posts and carol's removal

    const wanted = Array.from({ length: lastSeq }, (_, i) => i + 1);
    await eventually(() => {
      expect(seqsOf(bob, c.id)).toEqual(wanted);
      expect(seqsOf(alice, c.id)).toEqual(wanted);
      expect(seqsOf(late!, c.id)).toEqual(wanted);
    }, 20_000);
    // Live events did share frames (one committed batch held several of them).
    const liveTypes = bob.types.slice(bobFramesBefore);
    expect(liveTypes).toContain('events');
    expect(liveTypes.filter((t) => t === 'events' || t === 'event').length).toBeLessThan(lastSeq - firstSeq + 1);
    // Frames built once as bytes still go out as text frames.
    expect(binary.length).toBeGreaterThan(0);
    expect(binary.every((b) => b === false)).toBe(true);

    // Carol got everything up to her removal and nothing after it.
    const removal = bob.frames.flatMap((f) => (f.type === 'event' && f.event.type === 'MemberLeft' ? [f.event as WireEvent] : []));
    expect(removal).toHaveLength(1);
    await eventually(() => expect(seqsOf(carol, c.id)).toEqual(wanted.slice(0, removal[0]!.seq)));
    for (const s of [alice, bob, carol, late!]) s.close();
  }, 60_000);
});
