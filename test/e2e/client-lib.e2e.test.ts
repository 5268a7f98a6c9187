/**
 * client-lib against real nodes over real sockets: chatting, offline posting, restarts of
 * the client and of the server, final close codes, and `behind` catch-up.
 */
import { createServer } from 'node:net';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { SUBSCRIBE_ENTRIES_PER_FRAME } from '../../protocol/index.js';
import { createClient, FileStorage, MemoryStorage, when, type ParleyClient, type Storage, type WebSocketConstructor, type WebSocketLike } from '../../client-lib/node.js';
import { eventually } from '../helpers/eventually.js';
import { startTestNode, tokenFor, type TestNode } from '../helpers/node.js';
import { tempDir } from '../helpers/temp-dir.js';
import { api } from '../helpers/http.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

async function node(options: Parameters<typeof startTestNode>[0] = {}): Promise<TestNode> {
  const n = await startTestNode(options);
  cleanups.push(() => n.close());
  return n;
}

async function client(url: string, userId: string, storage: Storage = new MemoryStorage(), extra: { WebSocket?: WebSocketConstructor } = {}): Promise<ParleyClient> {
  const c = await createClient({ url, userId, token: () => tokenFor(userId), storage, backoff: { initialMs: 50, maxMs: 400 }, ...extra });
  cleanups.push(() => c.close());
  return c;
}

const online = (c: ParleyClient) => when(c.connection, (s) => s.status === 'online');
const drained = (c: ParleyClient) => when(c.outbox, (items) => items.length === 0);
const texts = (msgs: { text: string }[]) => msgs.map((m) => m.text);

async function serverMessages(n: TestNode, userId: string, conversationId: string) {
  const reply = await api(n.url, tokenFor(userId)).get(`/v1/conversations/${conversationId}/messages?after=0&limit=1000`);
  return reply.body.messages as { seq: number; text: string; messageId: string; reactions: Record<string, string[]> }[];
}

describe('client-lib e2e', () => {
  it('two clients chat: optimistic posts get server seqs, reactions, deletes, typing and presence', async () => {
    const n = await node();
    const alice = await client(n.url, 'alice');
    const bob = await client(n.url, 'bob');
    await Promise.all([online(alice), online(bob)]);

    const local = await alice.createConversation('Team', ['bob']);
    const room = await alice.conversation(local);
    const first = room.send('hello bob');
    expect(room.messages.get().map((m) => [m.text, m.pending])).toEqual([['hello bob', true]]);
    await first;
    await drained(alice);
    const id = alice.resolveId(local)!;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    await eventually(() => expect(room.messages.get().map((m) => [m.text, m.pending, m.seq])).toEqual([['hello bob', false, 2]]));

    await bob.refreshConversations();
    expect(bob.conversations.get().map((c) => c.title)).toEqual(['Team']);
    const bobRoom = await bob.conversation(id);
    await eventually(() => expect(texts(bobRoom.messages.get())).toEqual(['hello bob']));
    await bobRoom.send('hi alice');
    const hello = bobRoom.messages.get()[0]!;
    await bobRoom.react(hello.messageId, '👍');
    await eventually(() => expect(texts(room.messages.get())).toEqual(['hello bob', 'hi alice']));
    await eventually(() => expect(room.messages.get()[0]!.reactions).toEqual({ '👍': ['bob'] }));

    await room.delete(room.messages.get()[0]!.messageId);
    await eventually(() => expect(bobRoom.messages.get()[0]!.deleted).toBe(true));
    await bobRoom.unreact(hello.messageId, '👍');
    await bobRoom.markRead();
    await drained(bob);

    expect(bobRoom.typingNow()).toBe(true);
    await eventually(() => expect(room.typing.get()).toEqual(['bob']));
    await eventually(() => expect(alice.presence.get().bob?.online).toBe(true));
    await bob.close();
    await eventually(() => expect(alice.presence.get().bob?.online).toBe(false));

    const server = await serverMessages(n, 'alice', id);
    expect(server.map((m) => m.seq)).toEqual(room.messages.get().map((m) => m.seq));
  });

  it('posts made while the server is down are sent exactly once, in order, after it restarts', async () => {
    const port = await freePort();
    const dir = tempDir();
    cleanups.push(() => dir.remove());
    let n = await startTestNode({ port, dataDir: dir.path });
    cleanups.push(() => n.close());
    const alice = await client(n.url, 'alice');
    await online(alice);
    const local = await alice.createConversation('Offline', ['bob']);
    await drained(alice);
    const id = alice.resolveId(local)!;
    const room = await alice.conversation(id);

    await n.close();
    await when(alice.connection, (s) => s.status === 'offline');
    for (const text of ['one', 'two', 'three']) await room.send(text);
    expect(room.messages.get().map((m) => [m.text, m.pending])).toEqual([['one', true], ['two', true], ['three', true]]);
    expect(alice.outbox.get()).toHaveLength(3);

    n = await startTestNode({ port, dataDir: dir.path });
    cleanups.push(() => n.close());
    await online(alice);
    await drained(alice);
    await eventually(() => expect(room.messages.get().map((m) => [m.text, m.pending, m.seq])).toEqual([['one', false, 2], ['two', false, 3], ['three', false, 4]]));
    expect((await serverMessages(n, 'alice', id)).map((m) => [m.seq, m.text])).toEqual([[2, 'one'], [3, 'two'], [4, 'three']]);
  });

  it('a new client over the same file storage flushes an outbox left by a client closed while offline', async () => {
    const n = await node();
    const dir = tempDir();
    cleanups.push(() => dir.remove());
    const file = join(dir.path, 'alice.json');

    let storage = await FileStorage.open(file);
    const first = await client(n.url, 'alice', storage);
    await online(first);
    first.goOffline();
    expect(first.connection.get().status).toBe('offline');
    // Created offline: later commands wait for its ack to learn the server id.
    const local = await first.createConversation('Made offline', ['bob']);
    const room = await first.conversation(local);
    await room.send('first');
    await room.send('second');
    expect(first.conversations.get().map((c) => [c.title, c.pending])).toEqual([['Made offline', true]]);
    await first.close();
    await storage.close();

    storage = await FileStorage.open(file);
    const second = await client(n.url, 'alice', storage);
    expect(second.outbox.get().map((i) => i.command.type)).toEqual(['CreateConversation', 'PostMessage', 'PostMessage']);
    const again = await second.conversation(local);
    expect(again.messages.get().map((m) => m.pending)).toEqual([true, true]);
    await drained(second);
    const id = second.resolveId(local)!;
    expect(id).toBeTruthy();
    expect(again.id).toBe(id);
    await eventually(() => expect(again.messages.get().map((m) => [m.text, m.seq])).toEqual([['first', 2], ['second', 3]]));
    expect((await serverMessages(n, 'bob', id)).map((m) => m.text)).toEqual(['first', 'second']);
    await eventually(() => expect(second.conversations.get().map((c) => [c.id, c.pending])).toEqual([[id, undefined]]));
    await second.close();
    await storage.close();
  });

  it('a lost ack makes the client resend after reconnecting, and the server keeps one copy', async () => {
    const n = await node();
    let dropped = 0;
    // Closes the socket instead of delivering the first two acks: the commands were applied, the client does not know.
    class LossySocket implements WebSocketLike {
      private readonly ws: WebSocket;
      onopen: WebSocketLike['onopen'] = null;
      onmessage: WebSocketLike['onmessage'] = null;
      onclose: WebSocketLike['onclose'] = null;
      onerror: WebSocketLike['onerror'] = null;
      constructor(url: string) {
        this.ws = new WebSocket(url);
        this.ws.onopen = (ev) => this.onopen?.(ev);
        this.ws.onerror = (ev) => this.onerror?.(ev);
        this.ws.onclose = (ev) => this.onclose?.(ev);
        this.ws.onmessage = (ev) => {
          if (String(ev.data).includes('"type":"ack"') && dropped < 2) {
            dropped += 1;
            this.ws.close(3000, 'simulated loss');
            return;
          }
          this.onmessage?.(ev);
        };
      }
      get readyState(): number {
        return this.ws.readyState;
      }
      send(data: string): void {
        this.ws.send(data);
      }
      close(code?: number, reason?: string): void {
        this.ws.close(code, reason);
      }
    }
    const alice = await client(n.url, 'alice', new MemoryStorage(), { WebSocket: LossySocket as unknown as WebSocketConstructor });
    const local = await alice.createConversation('Lossy', []);
    const room = await alice.conversation(local);
    await room.send('only once');
    await drained(alice);
    expect(dropped).toBe(2);
    const id = alice.resolveId(local)!;
    expect((await serverMessages(n, 'alice', id)).map((m) => m.text)).toEqual(['only once']);
    await eventually(() => expect(room.messages.get().map((m) => [m.text, m.seq])).toEqual([['only once', 2]]));
  });

  it('catches up from its last seq after being offline, without duplicates', async () => {
    const n = await node();
    const alice = await client(n.url, 'alice');
    const bob = await client(n.url, 'bob');
    await Promise.all([online(alice), online(bob)]);
    const local = await alice.createConversation('Catch-up', ['bob']);
    await drained(alice);
    const id = alice.resolveId(local)!;
    const room = await alice.conversation(id);
    await room.send('before');
    await drained(alice);
    await bob.refreshConversations();
    const bobRoom = await bob.conversation(id);

    alice.goOffline();
    for (const t of ['b1', 'b2', 'b3']) await bobRoom.send(t);
    await drained(bob);
    expect(texts(room.messages.get())).toEqual(['before']);
    alice.goOnline();
    await eventually(() => expect(texts(room.messages.get())).toEqual(['before', 'b1', 'b2', 'b3']));
    expect(room.lastSeq).toBe(5);
  });

  it('resubscribes more conversations than one subscribe frame may name after reconnecting', async () => {
    const unlimited = { perSecond: 0, burst: 0 };
    const n = await node({ rateLimitPerUser: unlimited, rateLimitPerConnection: unlimited });
    const http = api(n.url, tokenFor('alice'));
    const count = SUBSCRIBE_ENTRIES_PER_FRAME + 20;
    const ids: string[] = [];
    for (let i = 0; i < count; i++) ids.push((await http.post('/v1/conversations', { title: `c${i}`, members: ['bob'] })).body.id);
    const bob = await client(n.url, 'bob');
    await online(bob);
    const rooms = await Promise.all(ids.map((id) => bob.conversation(id)));
    await eventually(() => expect(rooms.every((r) => r.lastSeq === 1)).toBe(true));

    bob.goOffline();
    for (const id of ids) await http.post(`/v1/conversations/${id}/messages`, { clientMessageId: `m-${id}`, text: `to ${id}` });
    const refused = new Array<string>();
    bob.errors.subscribe((e) => refused.push(e.code));
    bob.goOnline();
    await eventually(() => expect(rooms.filter((r, i) => texts(r.messages.get()).join() !== `to ${ids[i]}`)).toHaveLength(0));
    expect(refused).toEqual([]);
  });

  it('pages the gap over HTTP when the server says it is behind', async () => {
    const n = await node({ catchUpLimit: 5 });
    const alice = await client(n.url, 'alice');
    const bob = await client(n.url, 'bob');
    await Promise.all([online(alice), online(bob)]);
    const local = await alice.createConversation('Busy', ['bob']);
    await drained(alice);
    const id = alice.resolveId(local)!;
    const room = await alice.conversation(id);
    await room.send('a0');
    await drained(alice);
    await eventually(() => expect(texts(room.messages.get())).toEqual(['a0']));
    await bob.refreshConversations();
    const bobRoom = await bob.conversation(id);

    alice.goOffline();
    const sent = Array.from({ length: 12 }, (_, i) => `b${i + 1}`);
    for (const t of sent) await bobRoom.send(t);
    const react = bobRoom.messages.get()[0]!;
    await bobRoom.react(react.messageId, '🎉');
    await drained(bob);
    alice.goOnline();
    await eventually(() => expect(texts(room.messages.get())).toEqual(['a0', ...sent]));
    await eventually(() => expect(room.messages.get()[0]!.reactions).toEqual({ '🎉': ['bob'] }));
    expect(room.lastSeq).toBe(15);
    await bobRoom.send('live');
    await eventually(() => expect(texts(room.messages.get()).at(-1)).toBe('live'));
    expect(room.messages.get().map((m) => m.seq)).toEqual((await serverMessages(n, 'alice', id)).map((m) => m.seq));
  });

  it('pages older history over HTTP on demand, newest page first', async () => {
    const n = await node();
    const bob = await client(n.url, 'bob');
    const local = await bob.createConversation('Long', ['alice']);
    const bobRoom = await bob.conversation(local);
    const sent = Array.from({ length: 60 }, (_, i) => `m${i + 1}`);
    for (const t of sent) await bobRoom.send(t);
    await drained(bob);
    const id = bob.resolveId(local)!;

    const alice = await client(n.url, 'alice');
    await online(alice);
    await alice.refreshConversations();
    const room = await alice.conversation(id);
    // Opening fetched the newest page (50); older ones come on demand.
    expect(texts(room.messages.get())).toEqual(sent.slice(10));
    expect(room.hasOlder).toBe(true);
    expect(await room.loadOlder(25)).toBe(false);
    expect(texts(room.messages.get())).toEqual(sent);
    await bobRoom.send('live');
    await eventually(() => expect(texts(room.messages.get()).at(-1)).toBe('live'));
  });

  it('surfaces a command the server refuses for good and drops it from the view', async () => {
    const n = await node();
    const alice = await client(n.url, 'alice');
    const bob = await client(n.url, 'bob');
    const local = await alice.createConversation('Refusals', ['bob']);
    const room = await alice.conversation(local);
    await room.send('mine');
    await drained(alice);
    await bob.refreshConversations();
    const bobRoom = await bob.conversation(alice.resolveId(local)!);
    await eventually(() => expect(texts(bobRoom.messages.get())).toEqual(['mine']));
    const failures: string[] = [];
    bob.failures.subscribe((f) => failures.push(`${f.item.command.type}:${f.code}`));
    await bobRoom.delete(bobRoom.messages.get()[0]!.messageId);
    expect(bobRoom.messages.get()[0]!.deleted).toBe(true);
    await drained(bob);
    expect(failures).toEqual(['DeleteMessage:not_author']);
    expect(bobRoom.messages.get().map((m) => [m.text, m.deleted, m.pending])).toEqual([['mine', false, false]]);
  });

  it('stops reconnecting on a final close code (bad token) and says why', async () => {
    const n = await node();
    let asked = 0;
    const c = await createClient({
      url: n.url,
      userId: 'mallory',
      token: () => {
        asked += 1;
        return 'not-a-token';
      },
      storage: new MemoryStorage(),
      backoff: { initialMs: 20, maxMs: 50 },
    });
    cleanups.push(() => c.close());
    const state = await when(c.connection, (s) => s.status === 'stopped');
    expect(state.close?.code).toBe(4401);
    // The sentinel: a witness on the same backoff whose node refuses connections retries
    // meanwhile; after 8 of its retries (each ≥ 10 ms, the later ones ≥ 25 ms) well past the
    // 50 ms longest delay, a client that was going to reconnect would have.
    let witnessAsked = 0;
    const witness = await createClient({
      url: `http://127.0.0.1:${await freePort()}`,
      userId: 'witness',
      token: () => {
        witnessAsked += 1;
        return 'never-sent';
      },
      storage: new MemoryStorage(),
      backoff: { initialMs: 20, maxMs: 50 },
    });
    cleanups.push(() => witness.close());
    await eventually(() => expect(witnessAsked).toBeGreaterThanOrEqual(8), 10_000, 5);
    expect(asked).toBe(1);
    expect(c.connection.get().status).toBe('stopped');
  });

  it('asks the token provider again on every reconnect', async () => {
    const n = await node();
    const tokens: string[] = [];
    const c = await createClient({
      url: n.url,
      userId: 'alice',
      token: () => {
        tokens.push('x');
        return tokenFor('alice');
      },
      storage: new MemoryStorage(),
      backoff: { initialMs: 20, maxMs: 50 },
    });
    cleanups.push(() => c.close());
    await online(c);
    c.goOffline();
    c.goOnline();
    await online(c);
    expect(tokens.length).toBeGreaterThanOrEqual(2);
  });
});
