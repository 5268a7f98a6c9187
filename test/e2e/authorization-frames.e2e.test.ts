/**
 * The authorization matrix over every client frame type of `/v1/ws` (every command type for `command`).
 * Principals, fixture and expectation classes: test/helpers/authorization-matrix.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { COMMAND_TYPES, ERRORS, type ServerFrame } from '../../protocol/index.js';
import { api } from '../helpers/http.js';
import { acceptedClientFrameTypes, acceptedCommandTypes, declaredClientFrameTypes, declaredCommandTypes } from '../helpers/protocol-surface.js';
import { connectWs, type TestSocket } from '../helpers/ws-client.js';
import { startMatrixNodes, PRINCIPALS, type Principal, type Expect, type Fixture, MODES, node, MISSING, use, tokenFor, fixture, postOf, token, userOf, authenticated, membersOnly, moderatorsOnly } from '../helpers/authorization-matrix.js';

startMatrixNodes();

interface FrameCase {
  /** The frame, for `conversationId`. */
  frame(fx: Fixture, who: Principal, conversationId: string): Record<string, unknown>;
  expect: Record<Principal, Expect>;
  /** Frames to send first (a subscription before typing). */
  before?(fx: Fixture, conversationId: string): Record<string, unknown>[];
}

const command = (cmd: Record<string, unknown>) => ({ type: 'command', id: `c-${crypto.randomUUID()}`, command: cmd });
/** Commands about a conversation: members only. CreateConversation needs only a token. */
const COMMANDS: Record<string, FrameCase> = {
  CreateConversation: { frame: (_fx, who) => command({ type: 'CreateConversation', title: `ws ${who}`, members: [] }), expect: authenticated },
  AddMember: { frame: (fx, who, c) => command({ type: 'AddMember', conversationId: c, userId: `ws-invitee-${fx.n}-${who}` }), expect: membersOnly },
  RemoveMember: { frame: (fx, _who, c) => command({ type: 'RemoveMember', conversationId: c, userId: fx.users.member }), expect: membersOnly },
  PostMessage: {
    // Over the socket the frame id is the idempotency key.
    frame: (fx, who, c) => ({ ...command({ type: 'PostMessage', conversationId: c, text: postOf(fx, who).text }), id: postOf(fx, who).clientMessageId }),
    expect: membersOnly,
  },
  DeleteMessage: { frame: (fx, _who, c) => command({ type: 'DeleteMessage', conversationId: c, messageId: fx.memberMessageId }), expect: membersOnly },
  AddReaction: { frame: (fx, _who, c) => command({ type: 'AddReaction', conversationId: c, messageId: fx.ownerMessageId, emoji: '🎉' }), expect: membersOnly },
  RemoveReaction: { frame: (fx, _who, c) => command({ type: 'RemoveReaction', conversationId: c, messageId: fx.ownerMessageId, emoji: '👍' }), expect: membersOnly },
  MarkRead: { frame: (_fx, _who, c) => command({ type: 'MarkRead', conversationId: c, seq: 1 }), expect: membersOnly },
  SetRole: { frame: (fx, _who, c) => command({ type: 'SetRole', conversationId: c, userId: fx.users.member, role: 'guest' }), expect: moderatorsOnly },
  MuteMember: { frame: (fx, _who, c) => command({ type: 'MuteMember', conversationId: c, userId: fx.users.member, until: Date.now() + 60_000 }), expect: moderatorsOnly },
  BanMember: { frame: (fx, _who, c) => command({ type: 'BanMember', conversationId: c, userId: fx.users.member }), expect: moderatorsOnly },
  UnbanMember: { frame: (fx, _who, c) => command({ type: 'UnbanMember', conversationId: c, userId: fx.users.removed }), expect: moderatorsOnly },
  ReportMessage: { frame: (fx, _who, c) => command({ type: 'ReportMessage', conversationId: c, messageId: fx.ownerMessageId, reason: 'matrix' }), expect: membersOnly },
  PinMessage: { frame: (fx, _who, c) => command({ type: 'PinMessage', conversationId: c, messageId: fx.ownerMessageId }), expect: moderatorsOnly },
  UnpinMessage: { frame: (fx, _who, c) => command({ type: 'UnpinMessage', conversationId: c, messageId: fx.ownerMessageId }), expect: moderatorsOnly },
  ResolveReport: {
    frame: (fx, _who, c) => command({ type: 'ResolveReport', conversationId: c, messageId: fx.ownerMessageId, outcome: 'resolved' }),
    expect: moderatorsOnly,
  },
  FollowThread: { frame: (fx, _who, c) => command({ type: 'FollowThread', conversationId: c, threadRootId: fx.ownerMessageId }), expect: membersOnly },
  UnfollowThread: { frame: (fx, _who, c) => command({ type: 'UnfollowThread', conversationId: c, threadRootId: fx.ownerMessageId }), expect: membersOnly },
  MarkThreadRead: {
    frame: (fx, _who, c) => command({ type: 'MarkThreadRead', conversationId: c, threadRootId: fx.ownerMessageId, seq: 1 }),
    expect: membersOnly,
  },
  MarkMentionsRead: { frame: (_fx, _who, c) => command({ type: 'MarkMentionsRead', conversationId: c, seq: 1 }), expect: membersOnly },
  SetRetention: { frame: (_fx, _who, c) => command({ type: 'SetRetention', conversationId: c, periodSeconds: 3600 }), expect: moderatorsOnly },
  EraseMessage: { frame: (fx, _who, c) => command({ type: 'EraseMessage', conversationId: c, messageId: fx.memberMessageId }), expect: membersOnly },
};

const FRAMES: Record<string, FrameCase> = {
  auth: { frame: () => ({ type: 'auth' }), expect: authenticated },
  subscribe: { frame: (_fx, _who, c) => ({ type: 'subscribe', conversations: [{ conversationId: c, afterSeq: 0 }] }), expect: membersOnly },
  unsubscribe: { frame: (_fx, _who, c) => ({ type: 'unsubscribe', conversationIds: [c] }), expect: authenticated },
  typing: {
    frame: (_fx, _who, c) => ({ type: 'typing', conversationId: c }),
    before: (_fx, c) => [{ type: 'subscribe', conversations: [{ conversationId: c, afterSeq: 0 }] }],
    expect: membersOnly,
  },
  ping: { frame: () => ({ type: 'ping', id: 'matrix' }), expect: authenticated },
  ...Object.fromEntries(Object.entries(COMMANDS).map(([k, v]) => [`command:${k}`, v])),
};

/** What a socket saw after sending one frame. */
interface FrameOutcome {
  closeCode?: number;
  /** The answer that concerns the frame: an error, ack, caught-up, pong or ready. */
  answer?: ServerFrame;
  frames: ServerFrame[];
}

async function sendFrame(fx: Fixture, who: Principal, key: string, c: FrameCase, conversationId: string): Promise<FrameOutcome> {
  const f = c.frame(fx, who, conversationId);
  const t = await token(fx, who);
  if (key === 'auth') {
    // The auth frame is the first frame of a socket that had no token at the upgrade.
    const s = await connectWs(node.url);
    s.send({ type: 'auth', token: t ?? '' } as never);
    const outcome = await Promise.race([
      s.closed.then((x) => ({ closeCode: x.code, frames: s.frames })),
      s.next((x) => x.type === 'ready').then((answer) => ({ answer, frames: s.frames })),
    ]);
    s.close();
    return outcome;
  }
  let s: TestSocket;
  if (who === 'none') {
    s = await connectWs(node.url);
    s.send(f as never);
    const closed = await s.closed;
    return { closeCode: closed.code, frames: s.frames };
  }
  s = await connectWs(node.url, t);
  const ready = await Promise.race([s.next((x) => x.type === 'ready').then(() => true), s.closed.then(() => false)]);
  if (!ready) return { closeCode: (await s.closed).code, frames: s.frames };
  for (const b of c.before?.(fx, conversationId) ?? []) {
    const from = s.frames.length;
    s.send(b as never);
    await s.next((x) => (x.type === 'caught-up' || x.type === 'error') && (x as { conversationId?: string }).conversationId === conversationId, 5000, from);
  }
  const from = s.frames.length;
  s.send(f as never);
  const id = (f as { id?: string }).id;
  const concerns = (x: ServerFrame): boolean => {
    if (x.type === 'error') return (id !== undefined && x.id === id) || (x as { conversationId?: string }).conversationId === conversationId;
    if (key.startsWith('command:')) return x.type === 'ack' && x.id === id;
    if (key === 'subscribe') return x.type === 'caught-up' && x.conversationId === conversationId;
    if (key === 'ping') return x.type === 'pong' && x.id === id;
    return false;
  };
  let answer: ServerFrame | undefined;
  if (key === 'unsubscribe' || key === 'typing') {
    // No answer when allowed: a ping afterwards shows that any error would have arrived.
    s.send({ type: 'ping', id: 'after' });
    await s.next((x) => x.type === 'pong' && x.id === 'after', 5000, from);
    answer = s.frames.slice(from).find(concerns) ?? { type: 'pong', id: 'after' };
  } else {
    answer = await s.next(concerns, 5000, from);
  }
  s.close();
  return { answer, frames: s.frames.slice(from) };
}

describe.each(MODES)('authorization matrix: WebSocket frames, %s tokens', (mode) => {
  beforeAll(() => use(mode));

  it('has an expectation for every client frame type and command type the protocol declares and the node accepts', () => {
    const declared = declaredClientFrameTypes().sort();
    expect(acceptedClientFrameTypes().sort(), 'frames the node checks vs the ClientFrame schema (protocol/schema)').toEqual(declared);
    expect(acceptedCommandTypes([...COMMAND_TYPES]).sort(), 'commands the node checks vs COMMAND_TYPES').toEqual([...COMMAND_TYPES].sort());
    expect(declaredCommandTypes().sort(), 'the Command schema vs COMMAND_TYPES').toEqual([...COMMAND_TYPES].sort());
    const derived = [...declared.filter((t) => t !== 'command'), ...COMMAND_TYPES.map((t) => `command:${t}`)].sort();
    expect(Object.keys(FRAMES).sort()).toEqual(derived);
  });

  it.each(Object.keys(FRAMES).sort())('%s', async (key) => {
    const c = FRAMES[key]!;
    const fx = await fixture();
    const stream = `conversation-${fx.conversationId}`;
    for (const who of PRINCIPALS) {
      const before = await node.store.streamVersion(stream);
      const outcome = await sendFrame(fx, who, key, c, fx.conversationId);
      const where = `${key} as ${who} (${userOf(fx, who)}): ${JSON.stringify(outcome).slice(0, 400)}`;
      const events = outcome.frames.filter((x) => x.type === 'event' && x.event.conversationId === fx.conversationId);
      switch (c.expect[who]) {
        case 'unauthorized':
          expect(outcome.closeCode, where).toBe(4401);
          expect(outcome.frames.filter((x) => x.type !== 'error'), where).toEqual([]);
          break;
        case 'ok':
          expect(outcome.closeCode, where).toBeUndefined();
          expect(outcome.answer?.type, where).not.toBe('error');
          break;
        case 'denied': {
          expect(outcome.closeCode, where).toBeUndefined();
          expect(outcome.answer?.type, where).toBe('error');
          const code = (outcome.answer as { code: keyof typeof ERRORS }).code;
          expect([403, 404], where).toContain(ERRORS[code].status);
          expect(events, `${where}: delivered events of a conversation it may not read`).toEqual([]);
          expect(await node.store.streamVersion(stream), `${where}: appended`).toBe(before);
          const elsewhere = await sendFrame(fx, who, key, c, MISSING);
          const strip = (x?: ServerFrame) => x && { type: x.type, code: (x as { code?: string }).code, message: (x as { message?: string }).message };
          expect(strip(elsewhere.answer), `${where}: differs from the answer for a conversation that does not exist`).toEqual(strip(outcome.answer));
          break;
        }
        case 'public':
          throw new Error('no public frames');
      }
    }
  });

  it('a member removed while subscribed receives nothing posted after the removal', async () => {
    // The catch-up variant (removed while a large catch-up is still being sent) needs more
    // history than loopback socket buffers hold (tens of MB); the subscription tests own it.
    const fx = await fixture();
    const reader = await connectWs(node.url, await tokenFor(fx.users.member));
    await reader.next((f) => f.type === 'ready');
    reader.send({ type: 'subscribe', conversations: [{ conversationId: fx.conversationId, afterSeq: 0 }] });
    await reader.next((f) => f.type === 'caught-up');
    // The owner watches too: once the owner has the post, fan-out has offered it to every socket.
    const watcher = await connectWs(node.url, await tokenFor(fx.users.owner));
    watcher.send({ type: 'subscribe', conversations: [{ conversationId: fx.conversationId, afterSeq: 0 }] });
    await watcher.next((f) => f.type === 'caught-up');
    const owner = api(node.url, await tokenFor(fx.users.owner));
    expect((await owner.delete(`/v1/conversations/${fx.conversationId}/members/${fx.users.member}`)).status).toBe(200);
    const after = await owner.post(`/v1/conversations/${fx.conversationId}/messages`, { clientMessageId: 'after-removal', text: 'not for the removed' });
    expect(after.status).toBe(201);
    await watcher.next((f) => f.type === 'event' && f.event.seq === after.body.seq);
    if (reader.ws.readyState === WebSocket.OPEN) {
      // Frames on one socket arrive in order: anything sent before the pong is in by then.
      reader.send({ type: 'ping', id: 'fence' });
      await Promise.race([reader.next((f) => f.type === 'pong' && f.id === 'fence', 10_000), reader.closed]);
    }
    watcher.close();
    const leaked = reader.frames.filter((f) => f.type === 'event' && f.event.seq >= after.body.seq);
    expect(leaked, 'events committed after the removal reached the removed member').toEqual([]);
    reader.close();
  });
});
