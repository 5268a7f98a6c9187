/** Read models are disposable: `parley rebuild`, or deleting them, gives the same API answers. */
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { api } from '../helpers/http.js';
import { startTestNode, tokenFor, TEST_SECRET, type TestNode } from '../helpers/node.js';
import { tempDir } from '../helpers/temp-dir.js';
import { PARLEY_BIN as BIN } from '../helpers/cli.js';

const run = promisify(execFile);
const dir = tempDir();
let node: TestNode | undefined;
afterEach(async () => {
  await node?.close();
});

async function answers(n: TestNode, conversationIds: string[]) {
  const out: unknown[] = [];
  for (const user of ['alice', 'bob']) {
    const client = api(n.url, tokenFor(user));
    out.push((await client.get('/v1/conversations')).body);
    for (const id of conversationIds) {
      out.push((await client.get(`/v1/conversations/${id}/messages?limit=1000`)).body);
      out.push((await client.get(`/v1/conversations/${id}/presence`)).body);
    }
  }
  return out;
}

describe('rebuilding read models', () => {
  it('answers the same after `parley rebuild` and after the read-model file is deleted', async () => {
    node = await startTestNode({ dataDir: dir.path });
    const alice = api(node.url, tokenFor('alice'));
    const bob = api(node.url, tokenFor('bob'));
    const ids: string[] = [];
    for (let c = 0; c < 3; c++) {
      const { body } = await alice.post('/v1/conversations', { title: `c${c}`, members: ['bob'] });
      ids.push(body.id);
      for (let i = 0; i < 10; i++) {
        const m = await (i % 3 ? alice : bob).post(`/v1/conversations/${body.id}/messages`, { clientMessageId: `${c}-${i}`, text: `t${c}-${i}` });
        if (i === 4) await bob.post(`/v1/conversations/${body.id}/messages/${m.body.messageId}/reactions`, { emoji: '🔥' });
        if (i === 5) await alice.delete(`/v1/conversations/${body.id}/messages/${m.body.messageId}`);
      }
      await bob.post(`/v1/conversations/${body.id}/read`, { seq: 5 });
    }
    const before = await answers(node, ids);
    await node.close();

    const cli = await run(process.execPath, [BIN, 'rebuild', '--data-dir', dir.path], { env: { ...process.env, PARLEY_JWT_SECRET: TEST_SECRET } });
    expect(cli.stdout).toMatch(/rebuilt history, conversation-list, presence, analytics, search, webhooks, moderation, threads, mentions, attachment-uploads from \d+ events/);
    node = await startTestNode({ dataDir: dir.path });
    expect(await answers(node, ids)).toEqual(before);
    await node.close();

    for (const f of ['readmodels.sqlite', 'readmodels.sqlite-wal', 'readmodels.sqlite-shm']) rmSync(join(dir.path, f), { force: true });
    node = await startTestNode({ dataDir: dir.path });
    expect(await answers(node, ids)).toEqual(before);
  });
});
