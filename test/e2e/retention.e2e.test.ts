/**
 * Retention and erasure on a real node (issue 15): an author erases their message and
 * no surface serves its text any more — history, threads, search, mentions, the
 * conversation list, the WebSocket catch-up, the admin feed, the body's Yjs document,
 * `parley export`, and the bytes of the log file itself; a retention period expires
 * content by one compact event per sweep; both hold across a restart, `parley rebuild`
 * gives the same read models and `parley verify` passes.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { docNames } from '../../protocol/index.js';
import { PARLEY_BIN as BIN } from '../helpers/cli.js';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { startTestNode, tokenFor, TEST_SECRET, type TestNode } from '../helpers/node.js';
import { syncDocument } from '../helpers/document-sync.js';
import { tempDir } from '../helpers/temp-dir.js';
import { connectWs } from '../helpers/ws-client.js';

const exec = promisify(execFile);
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function parley(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [BIN, ...args], { env: { ...process.env, PARLEY_JWT_SECRET: TEST_SECRET } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

function dataDir(): string {
  const dir = tempDir();
  cleanups.push(() => dir.remove());
  return dir.path;
}

async function start(dir: string, options: Parameters<typeof startTestNode>[0] = {}): Promise<TestNode> {
  const node = await startTestNode({ dataDir: dir, ...options });
  let closed = false;
  cleanups.push(() => (closed ? undefined : node.close()));
  const close = node.close.bind(node);
  node.close = () => ((closed = true), close());
  return node;
}

/** Opens the body document of a message over /v1/sync and says how the server closed it. */
async function syncRefusal(node: TestNode, user: string, doc: string): Promise<{ code: number; reason: string }> {
  const ws = new WebSocket(`${node.url.replace(/^http/, 'ws')}/v1/sync/${doc}`, { headers: { authorization: `Bearer ${tokenFor(user)}` } });
  const received: Buffer[] = [];
  ws.on('message', (d: Buffer) => received.push(d));
  const closed = await new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  return { ...closed, reason: closed.reason + (received.some((b) => b.includes('zebra')) ? ' (served content!)' : '') };
}

async function feedText(node: TestNode, conversationId: string): Promise<string> {
  const res = await fetch(`${node.url}/v1/admin/feed?conversation=${conversationId}`, { headers: { authorization: `Bearer ${tokenFor('root', { role: 'admin' })}` } });
  expect(res.status).toBe(200);
  return res.text();
}

const SECRET = /zebra|hush/;

describe('erasing one message', () => {
  it('removes its content from every surface, holds across a restart and a rebuild, and verify passes', async () => {
    const dir = dataDir();
    let node = await start(dir);
    const alice = api(node.url, tokenFor('alice'));
    const bob = api(node.url, tokenFor('bob'));
    const { body: conv } = await alice.post('/v1/conversations', { title: 'erasure', members: ['bob'] });
    const c = conv.id as string;
    const kept = await alice.post(`/v1/conversations/${c}/messages`, { clientMessageId: 'kept', text: 'alice keeps this giraffe' });
    const secret = await bob.post(`/v1/conversations/${c}/messages`, { clientMessageId: 'secret', text: 'zebra plans for @alice' });
    const reply = await bob.post(`/v1/conversations/${c}/messages`, { clientMessageId: 'reply', text: 'hush zebra reply', threadRootId: kept.body.messageId });
    expect([kept.status, secret.status, reply.status]).toEqual([201, 201, 201]);
    const m = secret.body.messageId as string;
    // An edit of the body (a MessageBodyEdited in the log, with Yjs bytes and the text).
    const body = syncDocument(node.url, docNames.messageBody(c, m), 'bob');
    cleanups.push(() => body.destroy());
    await body.whenSynced();
    body.doc.getText('text').insert(body.doc.getText('text').length, ' — zebra edited');
    await eventually(async () => {
      const page = await alice.get(`/v1/conversations/${c}/messages`);
      expect(page.body.messages.find((x: { messageId: string }) => x.messageId === m).text).toContain('zebra edited');
    });
    await eventually(async () => expect((await alice.get('/v1/search?q=zebra')).body.hits.length).toBeGreaterThan(0));
    expect((await alice.get('/v1/mentions')).body.mentions).toHaveLength(1);

    // Nobody but the author erases; an unknown message is not found.
    expect((await alice.delete(`/v1/conversations/${c}/messages/${m}/content`)).body.code).toBe('not_author');
    expect((await bob.delete(`/v1/conversations/${c}/messages/nope/content`)).body.code).toBe('message_not_found');
    expect((await api(node.url, tokenFor('mallory')).delete(`/v1/conversations/${c}/messages/${m}/content`)).status).toBe(403);

    const bodyClosed = new Promise((resolve) => body.on('closed', resolve));
    const erased = await bob.delete(`/v1/conversations/${c}/messages/${m}/content`);
    expect(erased.status).toBe(200);
    expect(await bodyClosed).toMatchObject({ code: 4403, reason: 'message_erased' });
    expect((await bob.delete(`/v1/conversations/${c}/messages/${m}/content`)).body.code).toBe('message_erased');
    // Over the WebSocket too (the reply, in its thread).
    const ws = await connectWs(node.url, tokenFor('bob'));
    cleanups.push(() => ws.close());
    expect(await ws.command('erase-reply', { type: 'EraseMessage', conversationId: c, messageId: reply.body.messageId })).toMatchObject({ type: 'ack' });

    const surfaces = async (n: TestNode) => {
      const a = api(n.url, tokenFor('alice'));
      const page = (await a.get(`/v1/conversations/${c}/messages`)).body.messages as Array<{ messageId: string; text: string; redacted?: boolean }>;
      expect(page.find((x) => x.messageId === m)).toMatchObject({ text: '', redacted: true, deleted: false });
      expect(page.find((x) => x.messageId === kept.body.messageId)).toMatchObject({ text: 'alice keeps this giraffe' });
      expect(page.find((x) => x.messageId === kept.body.messageId)!.redacted).toBeUndefined();
      const thread = (await a.get(`/v1/conversations/${c}/threads/${kept.body.messageId}/messages`)).body;
      expect(thread.messages).toEqual([expect.objectContaining({ messageId: reply.body.messageId, text: '', redacted: true })]);
      expect((await a.get('/v1/search?q=zebra')).body.hits).toEqual([]);
      expect((await a.get('/v1/search?q=hush')).body.hits).toEqual([]);
      expect((await a.get('/v1/search?q=giraffe')).body.hits).toHaveLength(1);
      expect((await a.get('/v1/mentions')).body.mentions).toEqual([]);
      const list = JSON.stringify((await a.get('/v1/conversations')).body);
      expect(list).not.toMatch(SECRET);
      const feed = await feedText(n, c);
      expect(feed).not.toMatch(SECRET);
      expect(feed).toContain('"MessageErased"');
      expect(feed).toMatch(/"type":"MessagePosted"[^\n]*"redacted":true/);
      // A client catching up from the start gets the events, redacted.
      const reader = await connectWs(n.url, tokenFor('alice'));
      cleanups.push(() => reader.close());
      reader.send({ type: 'subscribe', conversations: [{ conversationId: c, afterSeq: 0 }] });
      await reader.next((f) => f.type === 'event' && f.event.type === 'MessageErased' && f.event.data.messageId === reply.body.messageId);
      expect(JSON.stringify(reader.frames)).not.toMatch(SECRET);
      expect(await syncRefusal(n, 'bob', docNames.messageBody(c, m))).toMatchObject({ code: 4403, reason: 'message_erased' });
    };
    await eventually(() => surfaces(node));
    await node.close();

    // The log keeps every event (dense seqs), its content rewritten: not even the file's bytes hold it.
    const log = new Database(join(dir, 'events.sqlite'), { readonly: true });
    const seqs = log.prepare('SELECT seq FROM events WHERE stream = ? ORDER BY seq').pluck().all(`conversation-${c}`) as number[];
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    expect(log.prepare("SELECT count(*) FROM events WHERE type = 'MessageBodyEdited' AND json_extract(data, '$.redacted') = 1").pluck().get()).toBeGreaterThan(0);
    log.close();
    expect(readFileSync(join(dir, 'events.sqlite')).includes('zebra')).toBe(false);

    node = await start(dir);
    await surfaces(node);
    await node.close();
    expect((await parley('verify', '--data-dir', dir)).stdout).toMatch(/^verify ok/m);
    const rebuilt = await parley('rebuild', '--data-dir', dir);
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    node = await start(dir);
    await surfaces(node);
    await node.close();
    const exported = await parley('export', '--data-dir', dir, '--out', join(dir, 'log.ndjson'));
    expect(exported.code, exported.stderr).toBe(0);
    const file = readFileSync(join(dir, 'log.ndjson'), 'utf8');
    expect(file).toContain('MessageErased');
    expect(file).not.toMatch(SECRET);
    // Three node starts and three CLI runs: on a loaded 2-core machine well past the default 30 s.
  }, 180_000);
});

describe('a retention period', () => {
  it('expires old content in one compact event per sweep; owners set it, members may not', async () => {
    const dir = dataDir();
    let node = await start(dir, { retentionSweepSeconds: 0.1 });
    const alice = api(node.url, tokenFor('alice'));
    const bob = api(node.url, tokenFor('bob'));
    const { body: conv } = await alice.post('/v1/conversations', { title: 'retention', members: ['bob'] });
    const c = conv.id as string;
    for (let i = 0; i < 5; i++) {
      expect((await bob.post(`/v1/conversations/${c}/messages`, { clientMessageId: `old-${i}`, text: `zebra number ${i}` })).status).toBe(201);
    }
    const lastPostAt = Date.now();
    const put = (who: typeof alice, periodSeconds: number | null) =>
      who.raw('PUT', `/v1/conversations/${c}/retention`, { periodSeconds });
    expect((await put(bob, 1)).body.code).toBe('forbidden');
    expect((await put(alice, 0)).status).toBe(400);
    expect((await put(alice, 1e12)).status).toBe(400);
    // The period starts when all five are already older than it, so the first sweep finds
    // them all (posted over several ticks on a loaded machine, they could expire one by one).
    await eventually(() => expect(Date.now() - lastPostAt).toBeGreaterThan(1_200), 5_000, 50);
    expect((await put(alice, 1)).status).toBe(200);
    expect((await alice.get('/v1/conversations')).body.conversations[0].retentionSeconds).toBe(1);

    const expired = async (n: TestNode) => {
      const page = (await api(n.url, tokenFor('alice')).get(`/v1/conversations/${c}/messages`)).body.messages as Array<{ text: string; redacted?: boolean }>;
      expect(page).toHaveLength(5);
      for (const msg of page) expect(msg).toMatchObject({ text: '', redacted: true });
      expect((await api(n.url, tokenFor('alice')).get('/v1/search?q=zebra')).body.hits).toEqual([]);
    };
    await eventually(() => expired(node));
    const feed = await feedText(node, c);
    expect(feed).not.toMatch(SECRET);
    const sweeps = feed.split('\n').filter((l) => l.includes('"MessagesExpired"'));
    // One event for the five messages, never one per message.
    expect(sweeps).toHaveLength(1);
    expect(JSON.parse(sweeps[0]!).data.throughSeq).toBeGreaterThanOrEqual(6);
    // Keeping forever again stops the sweep; a new message stays.
    expect((await put(alice, null)).status).toBe(200);
    expect((await alice.get('/v1/conversations')).body.conversations[0].retentionSeconds).toBeNull();
    const fresh = await bob.post(`/v1/conversations/${c}/messages`, { clientMessageId: 'new', text: 'stays' });
    expect(fresh.status).toBe(201);
    const firstMessage = (await alice.get(`/v1/conversations/${c}/messages`)).body.messages[0].messageId as string;
    expect(await syncRefusal(node, 'bob', docNames.messageBody(c, firstMessage))).toMatchObject({ code: 4403, reason: 'message_erased' });
    await node.close();

    expect(readFileSync(join(dir, 'events.sqlite')).includes('zebra')).toBe(false);
    expect((await parley('verify', '--data-dir', dir)).stdout).toMatch(/^verify ok/m);
    node = await start(dir, { retentionSweepSeconds: 0.1 });
    const page = (await api(node.url, tokenFor('alice')).get(`/v1/conversations/${c}/messages`)).body.messages;
    expect(page.map((x: { text: string }) => x.text)).toEqual(['', '', '', '', '', 'stays']);
    await node.close();
  }, 180_000);
});
