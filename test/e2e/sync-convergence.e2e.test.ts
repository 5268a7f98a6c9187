/**
 * Randomized convergence in the Yjs style, over a real node and real sockets: replicas
 * (two devices of one user among them) edit a conversation's notes and a message body,
 * going offline and online at random, driven by a seeded generator. At the end every
 * replica equals the server's document as rebuilt from the log. A failure prints its seed;
 * replay it with SYNC_SEED=<seed>.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { DocumentSync, docNames, type WebSocketLike } from '../../client-lib/yjs/index.js';
import { rebuildDocument, syncExtension } from '../../sync/index.js';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { startTestNode, tokenFor, type TestNode } from '../helpers/node.js';
import { mulberry32 } from '../helpers/seeded-random.js';


const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function replica(n: TestNode, user: string, docName: string): DocumentSync {
  const s = new DocumentSync({
    url: n.url,
    docName,
    token: () => tokenFor(user),
    backoff: { initialMs: 10, maxMs: 100 },
    openSocket: (url, token) =>
      new WebSocket(url, { headers: { authorization: `Bearer ${token}` } }) as unknown as WebSocketLike,
  });
  cleanups.push(() => s.destroy());
  return s;
}

const ALPHABET = 'abcdefghij klmnopqrstuvwxyz';

async function run(seed: number): Promise<void> {
  const random = mulberry32(seed);
  const int = (n: number) => Math.floor(random() * n);
  const n = await startTestNode({ extensions: [syncExtension({ snapshotEvery: 20 })] });
  cleanups.push(() => n.destroy());
  const c = (await api(n.url, tokenFor('alice')).post('/v1/conversations', { title: 'r', members: ['bob', 'carol'] })).body.id;
  const m = (
    await api(n.url, tokenFor('alice')).post(`/v1/conversations/${c}/messages`, { clientMessageId: `seed-${seed}`, text: 'draft one' })
  ).body.messageId;

  const notes = docNames.notes(c);
  const body = docNames.messageBody(c, m);
  // [user, doc, may write]
  const replicas = [
    { user: 'alice', doc: notes, writer: true },
    { user: 'alice', doc: notes, writer: true }, // alice's second device
    { user: 'bob', doc: notes, writer: true },
    { user: 'carol', doc: notes, writer: true },
    { user: 'alice', doc: body, writer: true },
    { user: 'alice', doc: body, writer: true }, // second device of the author
    { user: 'bob', doc: body, writer: false }, // a reader
  ].map((r) => ({ ...r, sync: replica(n, r.user, r.doc), online: true }));
  await Promise.all(replicas.map((r) => r.sync.whenSynced()));

  for (let step = 0; step < 160; step++) {
    const r = replicas[int(replicas.length)]!;
    const roll = random();
    if (roll < 0.12) {
      r.online = !r.online;
      if (r.online) r.sync.connect();
      else r.sync.disconnect();
    } else if (r.writer) {
      const t = r.sync.doc.getText('text');
      if (roll < 0.75 || t.length === 0) {
        let s = '';
        for (let i = 1 + int(4); i > 0; i--) s += ALPHABET[int(ALPHABET.length)];
        t.insert(int(t.length + 1), s);
      } else {
        const at = int(t.length);
        t.delete(at, Math.min(1 + int(3), t.length - at));
      }
    }
    if (random() < 0.3) await new Promise((resolve) => setTimeout(resolve, int(4)));
  }

  for (const r of replicas) if (!r.online) r.sync.connect();
  await Promise.all(replicas.map((r) => r.sync.whenSynced()));
  for (const doc of [notes, body]) {
    const group = replicas.filter((r) => r.doc === doc);
    await eventually(async () => {
      const server = await rebuildDocument(n.store, doc);
      const want = server.getText('text').toString();
      for (const r of group) {
        expect(r.sync.doc.getText('text').toString()).toBe(want);
        expect(Y.encodeStateVector(r.sync.doc)).toEqual(Y.encodeStateVector(server));
      }
    }, 10_000);
  }
  // The history read model shows the merged body.
  const server = (await rebuildDocument(n.store, body)).getText('text').toString();
  await eventually(async () => {
    const r = await api(n.url, tokenFor('bob')).get(`/v1/conversations/${c}/messages`);
    expect(r.body.messages[0].text).toBe(server);
  });
}

describe('sync: randomized convergence', () => {
  const seeds = process.env.SYNC_SEED
    ? [Number(process.env.SYNC_SEED)]
    : Array.from({ length: 3 }, () => Math.floor(Math.random() * 2 ** 31));
  for (const seed of seeds) {
    it(`replicas converge to the server's document (seed ${seed})`, async () => {
      try {
        await run(seed);
      } catch (err) {
        console.error(`sync convergence failed; replay with SYNC_SEED=${seed}`);
        throw new Error(`seed ${seed}: ${(err as Error).message}`, { cause: err });
      }
    }, 20_000);
  }
});
