/**
 * Seeded randomized convergence, in the Yjs style, through client-lib against a real
 * node: four clients (two devices of alice among them) go offline and online at random,
 * post, react, delete their own messages and edit the shared notes. At the end every
 * client's view equals the server's history and every notes replica is identical.
 *
 * A failure names its seed; replay it with PARLEY_SEED=<seed>.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, FileStorage, nodeDocuments, type Conversation, type DocumentSync, type ParleyClient } from '../../client-lib/node.js';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { startTestNode, tokenFor, type TestNode } from '../helpers/node.js';
import { tempDir } from '../helpers/temp-dir.js';
import { mulberry32 } from '../helpers/seeded-random.js';

const SEEDS = process.env.PARLEY_SEED ? [Number(process.env.PARLEY_SEED)] : [11, 2024, 90210];
const STEPS = 60;
const dir = tempDir();
let node: TestNode;
beforeAll(async () => {
  node = await startTestNode({ rateLimitPerConnection: { perSecond: 0, burst: 0 }, rateLimitPerUser: { perSecond: 0, burst: 0 } });
});
afterAll(async () => {
  await node.destroy();
  dir.remove();
});

/** mulberry32: small, fast, good enough to drive a test. */
function random(seed: number) {
  const next = mulberry32(seed);
  return { next, int: (n: number) => Math.floor(next() * n), pick: <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]! };
}

interface Replica {
  name: string;
  userId: string;
  client: ParleyClient;
  room: Conversation;
  notes: DocumentSync;
  online: boolean;
}

function normalize(messages: Array<{ seq?: number; messageId: string; author: string; text: string; deleted: boolean; reactions: Record<string, string[]> }>) {
  return messages.map((m) => ({
    seq: m.seq,
    messageId: m.messageId,
    author: m.author,
    text: m.deleted ? '' : m.text,
    deleted: m.deleted,
    reactions: Object.fromEntries(
      Object.entries(m.reactions)
        .filter(([, users]) => users.length > 0)
        .map(([emoji, users]) => [emoji, [...users].sort()])
        .sort(([a], [b]) => (a! < b! ? -1 : 1)),
    ),
  }));
}

async function run(seed: number): Promise<void> {
  const rnd = random(seed);
  const { body: c } = await api(node.url, tokenFor('alice')).post('/v1/conversations', { title: `seed ${seed}`, members: ['bob', 'carol'] });
  const replicas: Replica[] = [];
  for (const [name, userId] of [['alice-phone', 'alice'], ['alice-laptop', 'alice'], ['bob', 'bob'], ['carol', 'carol']] as const) {
    const documents = nodeDocuments();
    const client = await createClient({
      url: node.url,
      userId,
      token: () => tokenFor(userId),
      storage: await FileStorage.open(`${dir.path}/${seed}-${name}.json`),
      backoff: { initialMs: 20, maxMs: 200 },
      extensions: [documents],
    });
    replicas.push({ name, userId, client, room: await client.conversation(c.id), notes: documents.notes(c.id), online: true });
  }
  try {
    for (let step = 0; step < STEPS; step++) {
      const r = rnd.pick(replicas);
      const action = rnd.int(10);
      if (action < 2) {
        r.online = !r.online;
        if (r.online) {
          r.client.goOnline();
          r.notes.connect();
        } else {
          r.client.goOffline();
          r.notes.disconnect();
        }
      } else if (action < 5) {
        await r.room.send(`${r.name} #${step}`);
      } else if (action < 7) {
        const target = rnd.pick([...r.room.messages.get()]);
        if (target && !target.deleted) {
          const emoji = rnd.pick(['👍', '🎉', '👀']);
          const mine = target.reactions[emoji]?.includes(r.userId);
          await (mine ? r.room.unreact(target.messageId, emoji) : r.room.react(target.messageId, emoji));
        }
      } else if (action < 8) {
        const own = r.room.messages.get().filter((m) => m.author === r.userId && !m.deleted && !m.pending);
        if (own.length > 0) await r.room.delete(rnd.pick(own).messageId);
      } else {
        const text = r.notes.doc.getText('text');
        text.insert(rnd.int(text.length + 1), `${r.name[0]}${step} `);
      }
      if (rnd.int(3) === 0) await new Promise((res) => setTimeout(res, rnd.int(30)));
    }
    for (const r of replicas) {
      r.client.goOnline();
      r.notes.connect();
    }
    await eventually(async () => {
      const server = (await api(node.url, tokenFor('carol')).get(`/v1/conversations/${c.id}/messages?limit=1000`)).body.messages;
      for (const r of replicas) {
        expect(r.client.outbox.get(), `${r.name}'s outbox`).toEqual([]);
        expect(normalize(r.room.messages.get() as never), `${r.name}'s view`).toEqual(normalize(server));
      }
      const notes = replicas.map((r) => r.notes.doc.getText('text').toString());
      for (const n of notes) expect(n).toBe(notes[0]);
    }, 20_000);
  } catch (err) {
    throw new Error(`convergence failed with PARLEY_SEED=${seed}: ${(err as Error).message}`, { cause: err });
  } finally {
    for (const r of replicas) await r.client.close();
  }
}

describe('randomized convergence through client-lib', () => {
  for (const seed of SEEDS) {
    it(`converges (seed ${seed})`, () => run(seed), 60_000);
  }
});
