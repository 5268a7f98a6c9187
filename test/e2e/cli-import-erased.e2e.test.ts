/**
 * `parley import` keeps erased content erased. A JetStream stream keeps every message as
 * written, so `parley export --nats` writes an erased or expired message's original text
 * next to the MessageErased / MessagesExpired that ended it. Imported into a data
 * directory, whose store trusts what it holds, that text must arrive redacted: no
 * history, search, admin feed, catch-up or export of the copy serves it, the bytes of
 * events.sqlite do not hold it, and `parley verify` passes.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { docNames } from '../../protocol/index.js';
import { PARLEY_BIN as BIN } from '../helpers/cli.js';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { startTestNode, tokenFor, TEST_SECRET, type TestNode } from '../helpers/node.js';
import { syncDocument } from '../helpers/document-sync.js';
import { tempDir } from '../helpers/temp-dir.js';
import { connectWs } from '../helpers/ws-client.js';

const exec = promisify(execFile);
const streamName = `PARLEY_IMPERASED_${randomUUID().slice(0, 8)}`;
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function parley(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [BIN, ...args], { env: { ...process.env, PARLEY_JWT_SECRET: TEST_SECRET, PARLEY_STREAM: streamName, NATS_URL: '' } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

function dir(): string {
  const d = tempDir();
  cleanups.push(() => d.remove());
  return d.path;
}

async function start(options: Parameters<typeof startTestNode>[0]): Promise<TestNode> {
  const node = await startTestNode(options);
  let closed = false;
  cleanups.push(() => (closed ? undefined : node.close()));
  const close = node.close.bind(node);
  node.close = () => ((closed = true), close());
  return node;
}

async function feedText(node: TestNode, conversationId: string): Promise<string> {
  const res = await fetch(`${node.url}/v1/admin/feed?conversation=${conversationId}`, { headers: { authorization: `Bearer ${tokenFor('root', { role: 'admin' })}` } });
  expect(res.status).toBe(200);
  return res.text();
}

const SECRET = /zebra|hush/;
type Message = { messageId: string; text: string; redacted?: boolean };

describe('importing a JetStream export with erasures and an expiry', () => {
  it('writes the erased and expired content redacted, on every surface and in the file', async () => {
    const nats = await startNatsServer();
    cleanups.push(() => nats.stop());
    let node = await start({ dataDir: dir(), natsUrls: [nats.url], streamName, retentionSweepSeconds: 0.1 });
    const alice = api(node.url, tokenFor('alice'));
    const bob = api(node.url, tokenFor('bob'));

    // Conversation one: a kept message, and an erased one with an edit of its body.
    const erasing = (await alice.post('/v1/conversations', { title: 'erasure', members: ['bob'] })).body.id as string;
    const kept = await alice.post(`/v1/conversations/${erasing}/messages`, { clientMessageId: 'kept', text: 'alice keeps this giraffe' });
    const secret = await bob.post(`/v1/conversations/${erasing}/messages`, { clientMessageId: 'secret', text: 'zebra plans' });
    expect([kept.status, secret.status]).toEqual([201, 201]);
    const m = secret.body.messageId as string;
    const body = syncDocument(node.url, docNames.messageBody(erasing, m), 'bob');
    cleanups.push(() => body.destroy());
    await body.whenSynced();
    body.doc.getText('text').insert(body.doc.getText('text').length, ' — zebra edited');
    await eventually(async () => {
      const page = (await alice.get(`/v1/conversations/${erasing}/messages`)).body.messages as Message[];
      expect(page.find((x) => x.messageId === m)!.text).toContain('zebra edited');
    });
    expect((await bob.delete(`/v1/conversations/${erasing}/messages/${m}/content`)).status).toBe(200);
    body.destroy();

    // Conversation two: three messages expired by one sweep, then one that stays.
    const expiring = (await alice.post('/v1/conversations', { title: 'retention', members: ['bob'] })).body.id as string;
    for (let i = 0; i < 3; i++) expect((await bob.post(`/v1/conversations/${expiring}/messages`, { clientMessageId: `old-${i}`, text: `hush number ${i}` })).status).toBe(201);
    const lastPostAt = Date.now();
    // All three older than the period before it is set, so one sweep takes them all.
    await eventually(() => expect(Date.now() - lastPostAt).toBeGreaterThan(1_200), 5_000, 50);
    expect((await alice.raw('PUT', `/v1/conversations/${expiring}/retention`, { periodSeconds: 1 })).status).toBe(200);
    await eventually(async () => {
      const page = (await alice.get(`/v1/conversations/${expiring}/messages`)).body.messages as Message[];
      expect(page.map((x) => x.redacted)).toEqual([true, true, true]);
    });
    expect((await alice.raw('PUT', `/v1/conversations/${expiring}/retention`, { periodSeconds: null })).status).toBe(200);
    expect((await bob.post(`/v1/conversations/${expiring}/messages`, { clientMessageId: 'new', text: 'stays' })).status).toBe(201);
    await node.close();

    // The stream kept the originals: the export holds them (else this test proves nothing).
    const files = dir();
    const fromJetStream = join(files, 'jetstream.ndjson');
    const exported = await parley('export', '--nats', nats.url, '--out', fromJetStream);
    expect(exported.code, exported.stderr).toBe(0);
    const exportedText = readFileSync(fromJetStream, 'utf8');
    expect(exportedText).toMatch(/zebra edited/);
    expect(exportedText).toMatch(/hush number 2/);
    expect(exportedText).toContain('"MessagesExpired"');

    const copy = dir();
    const imported = await parley('import', '--data-dir', copy, '--in', fromJetStream);
    expect(imported.code, imported.stderr).toBe(0);

    const surfaces = async (n: TestNode) => {
      const a = api(n.url, tokenFor('alice'));
      const page = (await a.get(`/v1/conversations/${erasing}/messages`)).body.messages as Message[];
      expect(page.find((x) => x.messageId === m)).toMatchObject({ text: '', redacted: true });
      expect(page.find((x) => x.messageId === kept.body.messageId)).toMatchObject({ text: 'alice keeps this giraffe' });
      const old = (await a.get(`/v1/conversations/${expiring}/messages`)).body.messages as Message[];
      expect(old.map((x) => x.text)).toEqual(['', '', '', 'stays']);
      expect((await a.get('/v1/search?q=zebra')).body.hits).toEqual([]);
      expect((await a.get('/v1/search?q=hush')).body.hits).toEqual([]);
      expect((await a.get('/v1/search?q=giraffe')).body.hits).toHaveLength(1);
      for (const c of [erasing, expiring]) {
        const feed = await feedText(n, c);
        expect(feed).not.toMatch(SECRET);
        expect(feed).toMatch(/"type":"MessagePosted"[^\n]*"redacted":true/);
      }
      // A client catching up from the start gets the events, redacted.
      const reader = await connectWs(n.url, tokenFor('alice'));
      cleanups.push(() => reader.close());
      reader.send({ type: 'subscribe', conversations: [{ conversationId: erasing, afterSeq: 0 }, { conversationId: expiring, afterSeq: 0 }] });
      await reader.next((f) => f.type === 'event' && f.event.type === 'MessageErased');
      await reader.next((f) => f.type === 'event' && f.event.type === 'MessagePosted' && f.event.data.text === 'stays');
      expect(JSON.stringify(reader.frames)).not.toMatch(SECRET);
    };
    node = await start({ dataDir: copy });
    await eventually(() => surfaces(node));
    await node.close();

    expect(readFileSync(join(copy, 'events.sqlite')).includes('zebra')).toBe(false);
    expect(readFileSync(join(copy, 'events.sqlite')).includes('hush')).toBe(false);
    const verified = await parley('verify', '--data-dir', copy);
    expect(verified.stdout, verified.stderr).toMatch(/^verify ok/m);
    const again = join(files, 'copy.ndjson');
    expect((await parley('export', '--data-dir', copy, '--out', again)).code).toBe(0);
    const copyText = readFileSync(again, 'utf8');
    expect(copyText).toContain('"MessageErased"');
    expect(copyText).toContain('giraffe');
    expect(copyText).not.toMatch(SECRET);
    // A nats-server, two node starts and four CLI runs: well past the default 30 s on a loaded machine.
  }, 180_000);
});
