/**
 * A ban holds across a cluster under contention: a real 3-server NATS cluster with the log
 * at R3, three Parley nodes; in each round, mallory posts as fast as she can through nodes
 * B and C while alice bans her through node A at a random moment. No post of mallory's may
 * land after her ban's position, ever: each node decides against the conversation's state
 * and appends with that state's version, so a post decided before the ban conflicts and is
 * decided again, and refused. The seed is printed; replay with PARLEY_BAN_SEED.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asKnown } from '../../projections/index.js';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { startNatsCluster, type NatsCluster } from '../helpers/nats-server.js';
import { startTestNode, TEST_METRICS_TOKEN, tokenFor, type TestNode } from '../helpers/node.js';
import { seededRandom, seedFrom } from '../helpers/seeded-random.js';

const ROUNDS = Number(process.env.PARLEY_BAN_ROUNDS ?? 20);
const SEED = seedFrom('PARLEY_BAN_SEED');

let nats: NatsCluster;
const nodes: TestNode[] = [];

beforeAll(async () => {
  nats = await startNatsCluster(3);
  // The node's own per-user write budget throttles the flood (a throttled post is retried),
  // as it would in production: unthrottled, 20 bans needed over 400 attempts.
  const cluster = { natsUrls: nats.urls, streamName: `PARLEY_BAN_${randomUUID().slice(0, 8)}`, replicas: 3 };
  // One at a time: three cold starts at once on a loaded machine can miss a start bound.
  for (let i = 0; i < 3; i++) nodes.push(await eventually(() => startTestNode(cluster), 120_000, 500));
}, 300_000);

afterAll(async () => {
  for (const n of nodes) await n.destroy();
  await nats?.stop();
});

/** Retryable refusals: a conflict that ran out of attempts, or a store hiccup. */
const retryable = (code: string) => code === 'conflict' || code === 'unavailable';

/**
 * Posts through `node` until refused. Once the ban is acknowledged (`banDone`), the very
 * next post must be refused: a few retryable answers are allowed, not another ack.
 */
async function postUntilRefused(node: TestNode, user: string, conversationId: string, tag: string, banDone: () => boolean) {
  const as = api(node.url, tokenFor(user));
  let acks = 0;
  let afterBan = 0;
  for (let k = 0; ; k++) {
    const after = banDone();
    const r = await as.post(`/v1/conversations/${conversationId}/messages`, { clientMessageId: `${tag}-${k}`, text: `${tag} ${k}` });
    if (r.status === 201) {
      acks++;
      if (after) return { acks, code: 'acknowledged after the ban' };
    } else if (r.body.code === 'rate_limited') {
      await new Promise((resolve) => setTimeout(resolve, 5)); // the client backs off a little, as clients do
    } else if (!retryable(r.body.code)) return { acks, code: r.body.code as string };
    else if (after && ++afterBan > 20) return { acks, code: `still ${r.body.code} after the ban` };
  }
}

/** Bans through `node`, again while the node answers conflict (mallory's posts keep winning the race). */
async function banUntilDone(node: TestNode, conversationId: string, user: string): Promise<{ status: number; tries: number }> {
  for (let tries = 1; ; tries++) {
    const r = await api(node.url, tokenFor('alice')).raw('PUT', `/v1/conversations/${conversationId}/bans/${user}`);
    if (r.status === 200 || !retryable(r.body.code) || tries >= 50) return { status: r.status, tries };
  }
}

describe('a ban across a cluster under contention', () => {
  it('never lets a post of the banned user land after the ban', async () => {
    const rng = seededRandom(SEED);
    console.log(`[ban] seed=${SEED} rounds=${ROUNDS} — replay: PARLEY_BAN_SEED=${SEED} npx vitest run test/cluster/ban-under-contention.e2e.test.ts`);
    const [a, b, c] = nodes as [TestNode, TestNode, TestNode];
    const late: string[] = [];
    let acked = 0;
    let banTries = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const mallory = `mallory${round}`;
      const { body: conv } = await api(a.url, tokenFor('alice')).post('/v1/conversations', { title: `ban ${round}`, members: ['bob', mallory] });
      const delayMs = rng.int(40);
      let banned = false;
      const [fromB, fromC, ban] = await Promise.all([
        postUntilRefused(b, mallory, conv.id, 'b', () => banned),
        postUntilRefused(c, mallory, conv.id, 'c', () => banned),
        new Promise((r) => setTimeout(r, delayMs))
          .then(() => banUntilDone(a, conv.id, mallory))
          .finally(() => (banned = true)),
      ]);
      expect(ban.status, `round ${round}: the ban (${ban.tries} tries)`).toBe(200);
      expect([fromB.code, fromC.code], `round ${round}`).toEqual(['forbidden', 'forbidden']);
      banTries += ban.tries;
      acked += fromB.acks + fromC.acks;

      let bannedAt: number | undefined;
      for (const e of await a.store.readStream(`conversation-${conv.id}`, { limit: 100_000 })) {
        const k = asKnown(e);
        if (k.type === 'MemberBanned' && k.data.userId === mallory) bannedAt = k.position;
        if (k.type === 'MessagePosted' && k.data.author === mallory && bannedAt !== undefined) late.push(`round ${round}: ${k.data.text}@${k.position} > ban@${bannedAt}`);
      }
      expect(bannedAt, `round ${round}: the ban is in the log`).toBeDefined();
    }
    // Each lost race inside node A is a re-decide the client never sees: count those too.
    const scrape = (await api(a.url, TEST_METRICS_TOKEN).get('/metrics')).body as string;
    const lost = Number(/parley_command_conflicts_total\{type="BanMember"[^}]*\} (\d+)/.exec(scrape)?.[1] ?? 0);
    console.log(
      `[ban] ${ROUNDS} rounds: ${acked} posts of the banned users acknowledged before their bans, ${late.length} after; ` +
        `ban requests ${banTries} (client retries on conflict), ${banTries + lost} appends tried on node A (${lost} lost races re-decided)`,
    );
    expect(late).toEqual([]);
  }, 600_000);
});
