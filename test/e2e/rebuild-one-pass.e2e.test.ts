/**
 * `parley rebuild` of every read model in one pass (bulk load: indexes and the search index
 * built after) gives byte-identical API answers — history, conversation lists, search,
 * analytics, presence — to the node that built them live, on a log with deletes, body
 * edits (Yjs), reactions added and removed, members added and removed, and read markers;
 * `parley verify` then finds every table equal to a fresh replay. The node's own live
 * rebuild (admin route) and `--projection NAME` give the same answers too.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DocumentSync, docNames, type WebSocketLike } from '../../client-lib/yjs/index.js';
import { syncExtension } from '../../sync/index.js';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { startTestNode, tokenFor, TEST_SECRET, type TestNode } from '../helpers/node.js';
import { tempDir } from '../helpers/temp-dir.js';
import { PARLEY_BIN as BIN } from '../helpers/cli.js';

const run = promisify(execFile);
const dir = tempDir();
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(): Promise<TestNode> {
  const node = await startTestNode({ dataDir: dir.path, extensions: [syncExtension()] });
  cleanups.push(() => node.close());
  return node;
}

const USERS = ['alice', 'bob', 'carol'];
const QUERIES = ['zebra', 'lion', 'edited', 'noon', 'z', '"quoted" OR', 't1'];

/** Every answer the read models give, as the raw response bodies. */
async function answers(node: TestNode, conversationIds: string[]): Promise<string[]> {
  const out: string[] = [];
  const get = async (user: string, path: string, role?: 'admin') => {
    const res = await fetch(node.url + path, { headers: { authorization: `Bearer ${tokenFor(user, role ? { role } : {})}` } });
    out.push(`${user} GET ${path} ${res.status} ${await res.text()}`);
  };
  for (const user of USERS) {
    await get(user, '/v1/conversations');
    for (const id of conversationIds) {
      await get(user, `/v1/conversations/${id}/messages?limit=1000`);
      await get(user, `/v1/conversations/${id}/presence`);
      await get(user, `/v1/search?q=zebra&conversation=${id}`);
    }
    for (const q of QUERIES) await get(user, `/v1/search?q=${encodeURIComponent(q)}&limit=100`);
  }
  await get('root', '/v1/admin/analytics', 'admin');
  for (const id of conversationIds) await get('root', `/v1/admin/analytics?conversation=${id}`, 'admin');
  return out;
}

/** Alice edits her message's body through Yjs, as a device would; the log gets MessageBodyEdited. */
async function editBody(node: TestNode, conversationId: string, messageId: string, prefix: string): Promise<void> {
  const token = tokenFor('alice');
  const device = new DocumentSync({
    url: node.url,
    docName: docNames.messageBody(conversationId, messageId),
    token: () => token,
    backoff: { initialMs: 20, maxMs: 200 },
    openSocket: (url, t) => new WebSocket(url, { headers: { authorization: `Bearer ${t}` } }) as unknown as WebSocketLike,
  });
  try {
    await device.whenSynced();
    device.doc.getText('text').insert(0, prefix);
    await eventually(async () => {
      const r = await api(node.url, token).get(`/v1/conversations/${conversationId}/messages?limit=1000`);
      expect(r.body.messages.find((m: { messageId: string }) => m.messageId === messageId).text.startsWith(prefix)).toBe(true);
    });
  } finally {
    device.destroy();
  }
}

async function cli(...args: string[]) {
  return run(process.execPath, [BIN, ...args, '--data-dir', dir.path], { env: { ...process.env, PARLEY_JWT_SECRET: TEST_SECRET } });
}

describe('rebuilding every read model in one pass', () => {
  it('answers byte for byte as the live-built node, after `parley rebuild`, the admin route and `--projection`', async () => {
    let node = await start();
    const as = (user: string) => api(node.url, tokenFor(user));
    const ids: string[] = [];
    const words = ['zebra', 'lion', 'noon', 'tea'];
    for (let c = 0; c < 3; c++) {
      const { body } = await as('alice').post('/v1/conversations', { title: `c${c}`, members: ['bob'] });
      ids.push(body.id);
      const posted: string[] = [];
      for (let i = 0; i < 12; i++) {
        const author = i % 3 ? 'alice' : i > 8 && c !== 1 ? 'carol' : 'bob';
        const m = await as(author).post(`/v1/conversations/${body.id}/messages`, { clientMessageId: `${c}-${i}`, text: `${words[i % 4]} ${words[(i + c) % 4]} t${c}-${i}` });
        expect(m.status).toBe(201);
        posted.push(m.body.messageId);
        if (i === 2) expect((await as('carol').post(`/v1/conversations/${body.id}/messages`, { clientMessageId: 'x', text: 'zebra' })).status).toBe(403);
        if (i === 3) await as('alice').post(`/v1/conversations/${body.id}/members`, { userId: 'carol' });
        if (i === 4) {
          await as('bob').post(`/v1/conversations/${body.id}/messages/${m.body.messageId}/reactions`, { emoji: '🔥' });
          await as('carol').post(`/v1/conversations/${body.id}/messages/${m.body.messageId}/reactions`, { emoji: 'constructor' });
        }
        if (i === 6) await as('carol').delete(`/v1/conversations/${body.id}/messages/${posted[4]}/reactions/${encodeURIComponent('constructor')}`);
        if (i === 7 || i === 9) await as(author).delete(`/v1/conversations/${body.id}/messages/${m.body.messageId}`);
        if (i === 8 && c !== 1) await as('bob').delete(`/v1/conversations/${body.id}/members/bob`); // bob leaves c0 and c2
      }
      await editBody(node, body.id, posted[1]!, `edited${c} `);
      await as('carol').post(`/v1/conversations/${body.id}/read`, { seq: 5 });
    }
    // The delete of an edited message (messages[1] is posted[1]).
    await as('alice').delete(`/v1/conversations/${ids[2]}/messages/${(await as('alice').get(`/v1/conversations/${ids[2]}/messages?limit=1000`)).body.messages[1].messageId}`);
    const live = await answers(node, ids);
    expect(live.join('\n')).toMatch(/"deleted":true/);
    expect(live.join('\n')).toMatch(/\[edited0\]/);
    expect(live.join('\n')).not.toMatch(/edited2/);
    expect(live.join('\n')).toMatch(/"snippet":"\[zebra\]/);
    expect(live.join('\n')).toMatch(/"reactionsByEmoji":\[\{"emoji":"🔥","count":3\}/);
    await node.close();

    const rebuilt = await cli('rebuild');
    expect(rebuilt.stdout).toMatch(/^rebuilt history, conversation-list, presence, analytics, search, webhooks, moderation, threads, mentions, attachment-uploads from \d+ events in [\d.]+ s \(\d+ events\/s\)\n$/);
    expect((await cli('verify')).stdout).toMatch(/verify ok/);
    node = await start();
    expect(await answers(node, ids)).toEqual(live);

    // The node's own rebuild, while it serves.
    const admin = api(node.url, tokenFor('root', { role: 'admin' }));
    for (const name of ['search', 'conversation-list']) expect((await admin.post(`/v1/admin/projections/${name}/rebuild`, {})).status).toBe(200);
    expect(await answers(node, ids)).toEqual(live);
    await node.close();

    // One read model by name; an unknown one is a usage error that changes nothing.
    expect((await cli('rebuild', '--projection', 'search')).stdout).toMatch(/^rebuilt search from \d+ events/);
    const bad = await cli('rebuild', 'nosuch').catch((e: { code: number; stderr: string }) => e);
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringMatching(/unknown projection "nosuch"/) });
    node = await start();
    expect(await answers(node, ids)).toEqual(live);
  });
});
