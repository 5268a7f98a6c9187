/** `parley replay` reads a cluster's log straight from JetStream, as it does the embedded store. */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from '../helpers/http.js';
import { startNatsServer, type NatsSingle } from '../helpers/nats-server.js';
import { startTestNode, tokenFor, type TestNode } from '../helpers/node.js';
import { tempDir } from '../helpers/temp-dir.js';
import { PARLEY_BIN as BIN } from '../helpers/cli.js';

const run = promisify(execFile);
const streamName = `PARLEY_R_${randomUUID().slice(0, 8)}`;
const dir = tempDir();
let nats: NatsSingle;
let node: TestNode;
beforeAll(async () => {
  nats = await startNatsServer();
  node = await startTestNode({ natsUrls: [nats.url], streamName });
});
afterAll(async () => {
  await node?.destroy();
  await nats?.stop();
  dir.remove();
});

describe('parley replay on a cluster', () => {
  it('prints a conversation from the JetStream stream, in seq order', async () => {
    const alice = api(node.url, tokenFor('alice'));
    const { body: c } = await alice.post('/v1/conversations', { title: 'Replayed', members: [] });
    for (const text of ['one', 'two', 'three']) await alice.post(`/v1/conversations/${c.id}/messages`, { clientMessageId: text, text });
    const { stdout } = await run(process.execPath, [BIN, 'replay', '--nats', nats.url, '--conversation', c.id, '--data-dir', dir.path], {
      env: { ...process.env, PARLEY_STREAM: streamName },
    });
    const events = stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(events.map((e) => [e.seq, e.type])).toEqual([
      [1, 'ConversationCreated'],
      [2, 'MessagePosted'],
      [3, 'MessagePosted'],
      [4, 'MessagePosted'],
    ]);
    expect(events[3].data).toMatchObject({ text: 'three', format: 'plain' });
  });
});
