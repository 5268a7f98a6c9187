/**
 * Yjs documents end to end: real nodes, real sockets, a stock y-websocket provider and
 * client-lib's DocumentSync.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { DocumentSync, MemoryDocumentStorage, docNames, type DocumentStorage, type WebSocketLike } from '../../client-lib/yjs/index.js';
import { loadDocument, rebuildDocument, syncExtension, type SyncExtension } from '../../sync/index.js';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { startTestNode, tokenFor, type TestNode } from '../helpers/node.js';
import { asKnown } from '../../projections/index.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function node(options: { snapshotEvery?: number } = {}): Promise<{ node: TestNode; sync: SyncExtension }> {
  const sync = syncExtension(options);
  const n = await startTestNode({ extensions: [sync] });
  cleanups.push(() => n.destroy());
  return { node: n, sync };
}

async function conversation(n: TestNode, creator: string, members: string[]): Promise<string> {
  const r = await api(n.url, tokenFor(creator)).post('/v1/conversations', { title: 't', members });
  expect(r.status).toBe(201);
  return r.body.id;
}

async function post(n: TestNode, user: string, conversationId: string, text: string): Promise<string> {
  const r = await api(n.url, tokenFor(user)).post(`/v1/conversations/${conversationId}/messages`, {
    clientMessageId: crypto.randomUUID(),
    text,
  });
  expect(r.status).toBe(201);
  return r.body.messageId;
}

/** A `ws` WebSocket that sends the bearer token at the upgrade, counting bytes received. */
function bearerSocket(token: string, received?: { bytes: number }) {
  return class extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols, { headers: { authorization: `Bearer ${token}` } });
      if (received) this.on('message', (d: ArrayBuffer | Buffer) => (received.bytes += d.byteLength));
    }
  };
}

function stockProvider(n: TestNode, user: string, docName: string, doc = new Y.Doc()): WebsocketProvider {
  const p = new WebsocketProvider(n.url.replace(/^http/, 'ws') + '/v1/sync', docName, doc, {
    WebSocketPolyfill: bearerSocket(tokenFor(user)) as unknown as typeof globalThis.WebSocket,
    disableBc: true,
  });
  cleanups.push(() => p.destroy());
  return p;
}

function device(
  n: TestNode,
  user: string,
  docName: string,
  options: { storage?: DocumentStorage; connect?: boolean; received?: { bytes: number } } = {},
): DocumentSync {
  const s = new DocumentSync({
    url: n.url,
    docName,
    token: () => tokenFor(user),
    storage: options.storage,
    connect: options.connect,
    backoff: { initialMs: 20, maxMs: 200 },
    openSocket: (url, token) =>
      new (bearerSocket(token, options.received))(url) as unknown as WebSocketLike,
  });
  cleanups.push(() => s.destroy());
  return s;
}

const text = (d: { doc: Y.Doc } | Y.Doc) => ('doc' in d && d.doc instanceof Y.Doc ? d.doc : (d as Y.Doc)).getText('text').toString();

async function streamEvents(n: TestNode, stream: string) {
  return n.store.readStream(stream);
}

describe('sync: notes with a stock y-websocket provider', () => {
  it('one member edits, another sees it; awareness is relayed; the log has NotesUpdated with the text', async () => {
    const { node: n } = await node();
    const c = await conversation(n, 'alice', ['bob']);
    const a = stockProvider(n, 'alice', docNames.notes(c));
    const b = stockProvider(n, 'bob', docNames.notes(c));
    await eventually(() => expect(a.synced && b.synced).toBe(true));
    a.doc.getText('text').insert(0, 'agenda: ship it');
    await eventually(() => expect(b.doc.getText('text').toString()).toBe('agenda: ship it'));
    b.doc.getText('text').insert(0, '# ');
    await eventually(() => expect(a.doc.getText('text').toString()).toBe('# agenda: ship it'));

    a.awareness.setLocalStateField('user', { name: 'alice' });
    await eventually(() => expect([...b.awareness.getStates().values()].some((s) => s.user?.name === 'alice')).toBe(true));

    const events = (await streamEvents(n, `conversation-${c}`)).map(asKnown).filter((e) => e.type === 'NotesUpdated');
    expect(events.length).toBeGreaterThanOrEqual(2);
    expect(events.at(-1)!.type === 'NotesUpdated' && events.at(-1)!.data.text).toBe('# agenda: ship it');
    expect(events.map((e) => e.metadata.actor)).toEqual(expect.arrayContaining(['alice', 'bob']));
    expect(typeof (events[0]!.data as { update?: unknown }).update).toBe('string');
  });

  it('refuses sockets without a token and non-members, and frees documents nobody holds', async () => {
    const { node: n, sync } = await node();
    const c = await conversation(n, 'alice', ['bob']);
    const noToken = new WebSocket(n.url.replace(/^http/, 'ws') + '/v1/sync/' + docNames.notes(c));
    const refused = await new Promise<number>((resolve) => {
      noToken.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      noToken.on('close', (code) => resolve(code));
    });
    expect([401, 4401]).toContain(refused);

    const mallory = device(n, 'mallory', docNames.notes(c));
    const closed = await new Promise<{ code: number; reason: string }>((r) => mallory.on('closed', r));
    expect(closed).toEqual({ code: 4403, reason: 'forbidden' });

    const a = device(n, 'alice', docNames.notes(c));
    await a.whenSynced();
    expect(sync.server!.loadedDocuments()).toContain(docNames.notes(c));
    await a.destroy();
    await eventually(() => expect(sync.server!.loadedDocuments()).toEqual([]));
  });
});

describe('sync: bad input', () => {
  it('answers malformed frames and updates with invalid_request, stores nothing, keeps the socket', async () => {
    const { node: n } = await node();
    const c = await conversation(n, 'alice', ['bob']);
    const a = device(n, 'alice', docNames.notes(c));
    await a.whenSynced();
    const before = await n.store.streamVersion(`conversation-${c}`);
    const ws = new (bearerSocket(tokenFor('alice')))(n.url.replace(/^http/, 'ws') + '/v1/sync/' + docNames.notes(c));
    cleanups.push(() => ws.close());
    const frames: Buffer[] = [];
    ws.on('message', (d: Buffer) => frames.push(d));
    await new Promise((r) => ws.once('open', r));
    ws.send(new Uint8Array([0, 2, 6, 1, 200, 200, 200, 200, 9])); // an update whose bytes are garbage
    ws.send(new Uint8Array([9, 9, 9])); // an unknown message type
    ws.send(new Uint8Array([0])); // truncated
    await eventually(() => expect(frames.filter((f) => f[0] === 2).length).toBe(3));
    for (const f of frames.filter((x) => x[0] === 2)) expect(f.toString('utf8')).toContain('"code":"invalid_request"');
    expect(ws.readyState).toBe(WebSocket.OPEN);
    a.doc.getText('text').insert(0, 'still fine');
    await eventually(async () => expect(text(await rebuildDocument(n.store, docNames.notes(c)))).toBe('still fine'));
    const events = await n.store.readStream(`conversation-${c}`, { afterSeq: before });
    expect(events.map((e) => e.type)).toEqual(['NotesUpdated']);
  });
});

describe('sync: message bodies', () => {
  it('two devices of the author edit offline, reconnect, and every member sees the character-wise merge', async () => {
    const { node: n } = await node();
    const c = await conversation(n, 'alice', ['bob']);
    const m = await post(n, 'alice', c, 'hello world');
    const name = docNames.messageBody(c, m);
    const phone = device(n, 'alice', name);
    const laptop = device(n, 'alice', name);
    const bob = device(n, 'bob', name);
    await Promise.all([phone.whenSynced(), laptop.whenSynced(), bob.whenSynced()]);
    expect(text(phone)).toBe('hello world');

    phone.disconnect();
    laptop.disconnect();
    phone.doc.getText('text').insert(5, ', dear'); // "hello, dear world"
    laptop.doc.getText('text').insert(11, '!'); // "hello world!"
    laptop.doc.getText('text').delete(0, 1); // "ello world!"
    phone.connect();
    laptop.connect();

    const merged = 'ello, dear world!';
    await eventually(() => {
      expect(text(phone)).toBe(merged);
      expect(text(laptop)).toBe(merged);
      expect(text(bob)).toBe(merged);
    });
    await eventually(async () => {
      const r = await api(n.url, tokenFor('bob')).get(`/v1/conversations/${c}/messages`);
      expect(r.body.messages.find((x: { messageId: string }) => x.messageId === m).text).toBe(merged);
    });
    const edits = (await streamEvents(n, `conversation-${c}`)).filter((e) => e.type === 'MessageBodyEdited');
    expect(edits.at(-1)!.data).toMatchObject({ messageId: m, text: merged });
  });

  it("refuses a non-author's update with not_author: nothing stored, nothing forwarded", async () => {
    const { node: n } = await node();
    const c = await conversation(n, 'alice', ['bob']);
    const m = await post(n, 'alice', c, 'mine');
    const name = docNames.messageBody(c, m);
    const alice = device(n, 'alice', name);
    const bob = device(n, 'bob', name);
    await Promise.all([alice.whenSynced(), bob.whenSynced()]);
    const before = await n.store.streamVersion(`conversation-${c}`);

    const denied = new Promise((r) => bob.on('denied', r));
    bob.doc.getText('text').insert(0, 'not ');
    expect(await denied).toMatchObject({ code: 'not_author' });

    // The author's next edit goes through; bob's never reaches anyone or the log.
    alice.doc.getText('text').insert(4, '!');
    await eventually(() => expect(text(bob)).toBe('not mine!'));
    expect(text(alice)).toBe('mine!');
    const events = await n.store.readStream(`conversation-${c}`, { afterSeq: before });
    expect(events.map((e) => [e.type, e.metadata.actor])).toEqual([['MessageBodyEdited', 'alice']]);
    const fresh = device(n, 'carol', name);
    const closed = await new Promise((r) => fresh.on('closed', r));
    expect(closed).toMatchObject({ code: 4403 });
    expect(text(await rebuildDocument(n.store, name))).toBe('mine!');
  });

  it('a member who leaves is cut off; a deleted message closes its body', async () => {
    const { node: n } = await node();
    const c = await conversation(n, 'alice', ['bob']);
    const m = await post(n, 'alice', c, 'x');
    const bob = device(n, 'bob', docNames.notes(c));
    await bob.whenSynced();
    const closed = new Promise((r) => bob.on('closed', r));
    await api(n.url, tokenFor('bob')).delete(`/v1/conversations/${c}/members/bob`);
    expect(await closed).toMatchObject({ code: 4403 });

    const alice = device(n, 'alice', docNames.messageBody(c, m));
    await alice.whenSynced();
    const gone = new Promise((r) => alice.on('closed', r));
    await api(n.url, tokenFor('alice')).delete(`/v1/conversations/${c}/messages/${m}`);
    expect(await gone).toMatchObject({ code: 4403, reason: 'message_deleted' });
  });
});

describe('sync: drafts', () => {
  it("sync across the user's devices only; another user cannot read them", async () => {
    const { node: n } = await node();
    const c = await conversation(n, 'alice', ['bob']);
    const name = docNames.draft('alice', c);
    const one = device(n, 'alice', name);
    const two = device(n, 'alice', name);
    await Promise.all([one.whenSynced(), two.whenSynced()]);
    one.doc.getText('text').insert(0, 'secret plan');
    await eventually(() => expect(text(two)).toBe('secret plan'));

    const bob = device(n, 'bob', name);
    const closed = await new Promise((r) => bob.on('closed', r));
    expect(closed).toEqual({ code: 4403, reason: 'forbidden' });
    expect(text(bob)).toBe('');
    const drafts = (await streamEvents(n, 'user-alice')).filter((e) => e.type === 'DraftUpdated');
    expect(drafts.at(-1)!.data).toMatchObject({ conversationId: c, text: 'secret plan' });
  });
});

describe('sync: history, resync and loading', () => {
  it('rebuilds a document as of an earlier position and time from the log', async () => {
    const { node: n } = await node();
    const c = await conversation(n, 'alice', ['bob']);
    const name = docNames.notes(c);
    const a = device(n, 'alice', name);
    await a.whenSynced();
    const stream = `conversation-${c}`;
    const textAfterEach: Array<{ position: number; at: number; text: string }> = [];
    for (const word of ['one', ' two', ' three']) {
      a.doc.getText('text').insert(a.doc.getText('text').length, word);
      const expected = text(a);
      const e = await eventually(async () => {
        const last = (await n.store.readStream(stream)).filter((x) => x.type === 'NotesUpdated').at(-1);
        expect((last?.data as { text?: string } | undefined)?.text).toBe(expected);
        return last!;
      });
      textAfterEach.push({ position: e.position, at: e.metadata.at, text: expected });
      await new Promise((r) => setTimeout(r, 5));
    }
    for (const point of textAfterEach) {
      expect(text(await rebuildDocument(n.store, name, { position: point.position }))).toBe(point.text);
      expect(text(await rebuildDocument(n.store, name, { at: point.at }))).toBe(point.text);
    }
    expect(text(await rebuildDocument(n.store, name, { position: textAfterEach[0]!.position - 1 }))).toBe('');
  });

  it('a reconnecting device receives only what it lacks (state-vector diff)', async () => {
    const { node: n } = await node();
    const c = await conversation(n, 'alice', ['bob']);
    const name = docNames.notes(c);
    const received = { bytes: 0 };
    const a = device(n, 'alice', name, { received });
    const b = device(n, 'bob', name);
    await Promise.all([a.whenSynced(), b.whenSynced()]);
    b.doc.getText('text').insert(0, 'x'.repeat(20_000));
    await eventually(() => expect(text(a).length).toBe(20_000));
    const full = Y.encodeStateAsUpdate(a.doc).length;

    a.disconnect();
    b.doc.getText('text').insert(0, 'hi ');
    await eventually(async () => expect((await rebuildDocument(n.store, name)).getText('text').length).toBe(20_003));
    received.bytes = 0;
    a.connect();
    await a.whenSynced();
    await eventually(() => expect(text(a).startsWith('hi x')).toBe(true));
    // step 1 (a state vector) + step 2 (the 3-character diff): far below the full state.
    expect(full).toBeGreaterThan(20_000);
    expect(received.bytes).toBeLessThan(200);
    expect(received.bytes * 100).toBeLessThan(full);
  });

  it('loads from the newest snapshot plus fewer than snapshotEvery updates, and survives a restart of the device', async () => {
    const { node: n, sync } = await node({ snapshotEvery: 10 });
    const c = await conversation(n, 'alice', ['bob']);
    const name = docNames.notes(c);
    const storage = new MemoryDocumentStorage();
    const a = device(n, 'alice', name, { storage });
    await a.whenSynced();
    for (let i = 0; i < 35; i++) {
      a.doc.getText('text').insert(0, String(i % 10));
      await eventually(async () => {
        const last = (await n.store.readStream(`conversation-${c}`)).filter((e) => e.type === 'NotesUpdated').at(-1);
        expect((last?.data as { text?: string } | undefined)?.text).toBe(text(a));
      });
    }
    await eventually(async () => {
      const loaded = await loadDocument(n.runner.db, n.store, name);
      expect(loaded.fromSnapshot).toBe(true);
      expect(loaded.updatesApplied).toBeLessThan(10);
      expect(text(loaded.doc)).toBe(text(a));
    });

    // Offline edit, device restart, reconnect: the edit reaches the server from storage.
    a.disconnect();
    a.doc.getText('text').insert(0, 'offline ');
    await a.destroy();
    await eventually(() => expect(sync.server!.loadedDocuments()).toEqual([]));
    const again = device(n, 'alice', name, { storage });
    await again.whenSynced();
    expect(text(again).startsWith('offline ')).toBe(true);
    await eventually(async () => expect(text(await rebuildDocument(n.store, name))).toBe(text(again)));
    const b = device(n, 'bob', name);
    await b.whenSynced();
    expect(text(b)).toBe(text(again));
  });
});

describe('sync: several nodes', () => {
  it('sockets on two nodes over one log see each other through the feed', async () => {
    const { node: a } = await node();
    const b = await startTestNode({ store: a.store, extensions: [syncExtension()] });
    cleanups.push(() => b.destroy());
    const c = await conversation(a, 'alice', ['bob']);
    const m = await post(a, 'alice', c, 'posted on a');
    const onA = device(a, 'alice', docNames.notes(c));
    const onB = device(b, 'bob', docNames.notes(c));
    const bodyOnB = device(b, 'bob', docNames.messageBody(c, m));
    await Promise.all([onA.whenSynced(), onB.whenSynced(), bodyOnB.whenSynced()]);
    expect(text(bodyOnB)).toBe('posted on a');
    onA.doc.getText('text').insert(0, 'from a');
    await eventually(() => expect(text(onB)).toBe('from a'));
    onB.doc.getText('text').insert(6, ', and b');
    await eventually(() => expect(text(onA)).toBe('from a, and b'));
    const bodyOnA = device(a, 'alice', docNames.messageBody(c, m));
    await bodyOnA.whenSynced();
    bodyOnA.doc.getText('text').insert(0, 'edited, ');
    await eventually(() => expect(text(bodyOnB)).toBe('edited, posted on a'));
  });
});
