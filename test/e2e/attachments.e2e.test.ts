/**
 * Attachments on a real node (real SQLite, real HTTP): upload, dedup by content, attach
 * on post, signed downloads for members only, hostile uploads, orphan collection.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachmentSettings } from '../../engine/node/config/index.js';
import { api } from '../helpers/http.js';
import { eventually } from '../helpers/eventually.js';
import { startTestNode, tokenFor, TEST_SECRET, type TestNode } from '../helpers/node.js';
import { pngHeader, rawUpload } from '../helpers/attachments.js';

const MAX_BYTES = 64 * 1024;

function blobFiles(dataDir: string): string[] {
  const root = join(dataDir, 'attachments', 'blobs');
  if (!existsSync(root)) return [];
  return readdirSync(root).flatMap((d) => readdirSync(join(root, d)));
}

describe('attachments', () => {
  let node: TestNode;
  const alice = () => api(node.url, tokenFor('alice'));
  const bob = () => api(node.url, tokenFor('bob'));
  let conversationId: string;

  const upload = (user: string, body: Buffer, type: string, name = 'f.bin', conversation = conversationId) =>
    fetch(`${node.url}/v1/conversations/${conversation}/attachments?name=${encodeURIComponent(name)}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokenFor(user)}`, 'content-type': type },
      body: new Uint8Array(body),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));

  beforeAll(async () => {
    node = await startTestNode({
      attachments: { ...attachmentSettings({ PARLEY_ATTACHMENT_MAX_BYTES: String(MAX_BYTES), PARLEY_ATTACHMENT_IDLE_SECONDS: '1' }, TEST_SECRET) },
    });
    const c = await alice().post('/v1/conversations', { title: 'files', members: ['bob'] });
    conversationId = c.body.id;
  });
  afterAll(() => node?.destroy());

  it('stores an image with its size, the same bytes once, and attaches it to a message', async () => {
    const png = pngHeader(640, 480, 1000);
    const first = await upload('alice', png, 'image/png', 'C:\\photos\\cat.png');
    expect(first.status).toBe(201);
    expect(first.body.attachment).toMatchObject({ name: 'cat.png', type: 'image/png', size: png.length, width: 640, height: 480 });
    const again = await upload('alice', png, 'application/octet-stream', 'copy.png');
    expect(again.status).toBe(201);
    expect(again.body.attachment.type).toBe('image/png');
    expect(again.body.attachment.id).not.toBe(first.body.attachment.id);
    expect(blobFiles(node.dataDir)).toHaveLength(1);

    const posted = await alice().post(`/v1/conversations/${conversationId}/messages`, {
      clientMessageId: 'with-cat',
      text: 'a cat',
      attachments: [first.body.attachment.id],
    });
    expect(posted.status).toBe(201);
    const events = await node.store.readStream(`conversation-${conversationId}`);
    const message = events.find((e) => e.type === 'MessagePosted');
    expect((message!.data as any).attachments).toEqual([first.body.attachment]);
    const page = await bob().get(`/v1/conversations/${conversationId}/messages?after=0`);
    expect(page.body.messages.find((m: any) => m.text === 'a cat').attachments).toEqual([first.body.attachment]);

    const twice = await alice().post(`/v1/conversations/${conversationId}/messages`, { clientMessageId: 'again', text: 'x', attachments: [first.body.attachment.id] });
    expect(twice.body.code).toBe('attachment_in_use');
    const foreign = await bob().post(`/v1/conversations/${conversationId}/messages`, { clientMessageId: 'b', text: 'x', attachments: [again.body.attachment.id] });
    expect(foreign.body.code).toBe('attachment_not_found');
  });

  it('serves members through signed links; a tampered, foreign or revoked link is refused', async () => {
    const png = pngHeader(2, 2, 50);
    const up = await upload('alice', png, 'image/png', 'dot.png');
    const id = up.body.attachment.id;
    const link = await bob().get(`/v1/conversations/${conversationId}/attachments/${id}/url`);
    expect(link.status).toBe(200);
    expect(link.body.expiresAt).toBeGreaterThan(Date.now());
    const res = await fetch(node.url + link.body.url);
    expect(res.status, await res.clone().text()).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-disposition')).toMatch(/^inline; filename="dot.png"/);
    expect(Buffer.from(await res.arrayBuffer()).equals(png)).toBe(true);

    const tampered = link.body.url.replace(/u=bob/, 'u=alice');
    expect((await fetch(node.url + tampered)).status).toBe(403);
    expect((await fetch(node.url + link.body.url.replace(/e=\d+/, 'e=99999999999999'))).status).toBe(403);
    expect((await api(node.url, tokenFor('eve')).get(`/v1/conversations/${conversationId}/attachments/${id}/url`)).status).toBe(403);

    await alice().raw('DELETE', `/v1/conversations/${conversationId}/members/bob`);
    const revoked = await fetch(node.url + link.body.url);
    expect(revoked.status).toBe(403);
    expect(((await revoked.json()) as any).code).toBe('forbidden');
    await alice().post(`/v1/conversations/${conversationId}/members`, { userId: 'bob' });
  });

  it('refuses non-members, disguised and unaccepted types, and files over the limit', async () => {
    expect((await upload('eve', pngHeader(1, 1), 'image/png')).status).toBe(403);
    const html = Buffer.from('<html><script>alert(1)</script></html>');
    const disguised = await upload('alice', html, 'image/png');
    expect(disguised.status).toBe(415);
    expect(disguised.body.code).toBe('attachment_type_refused');
    expect((await upload('alice', html, 'text/html')).body.code).toBe('attachment_type_refused');
    const big = await upload('alice', Buffer.alloc(MAX_BYTES + 1), 'application/octet-stream');
    expect(big.status).toBe(413);
    expect(big.body.code).toBe('attachment_too_large');
    const text = await upload('alice', Buffer.from('plain words'), 'text/plain; charset=utf-8', '../../etc/passwd');
    expect(text.body.attachment).toMatchObject({ type: 'text/plain', name: 'passwd' });
    const link = await alice().get(`/v1/conversations/${conversationId}/attachments/${text.body.attachment.id}/url`);
    const res = await fetch(node.url + link.body.url);
    expect(res.headers.get('content-disposition')).toMatch(/^attachment;/);
  });

  it('cuts an upload shorter than its Content-Length or that stops sending, and keeps nothing of it', async () => {
    const before = blobFiles(node.dataDir).length;
    const socket = await rawUpload(
      node.url,
      `/v1/conversations/${conversationId}/attachments?name=slow.bin`,
      { authorization: `Bearer ${tokenFor('alice')}`, 'content-type': 'application/octet-stream', 'content-length': '5000' },
      Buffer.alloc(1000, 1),
    );
    // The node answers once the idle limit (1 s here) passes without a byte, and closes.
    await new Promise((resolve) => socket.once('close', resolve));
    expect(socket.received()).toMatch(/^HTTP\/1.1 400/);
    expect(socket.received()).toContain('upload_incomplete');
    expect(readdirSync(join(node.dataDir, 'attachments', 'incoming'))).toEqual([]);
    expect(blobFiles(node.dataDir)).toHaveLength(before);
    const events = await node.store.readStream(`conversation-${conversationId}`);
    expect(events.filter((e) => e.type === 'AttachmentUploaded').map((e) => (e.data as any).attachment.name)).not.toContain('slow.bin');
  });
});

describe('orphaned uploads', () => {
  it('are discarded and their blob removed when nobody attaches them in time; attached ones stay', async () => {
    const node = await startTestNode({
      attachments: attachmentSettings({ PARLEY_ATTACHMENT_ORPHAN_SECONDS: '4', PARLEY_ATTACHMENT_COLLECT_SECONDS: '1', PARLEY_ATTACHMENT_COLLECT_BATCH: '1' }, TEST_SECRET),
    });
    try {
      const alice = api(node.url, tokenFor('alice'));
      const c = (await alice.post('/v1/conversations', { title: 'o', members: [] })).body.id;
      const up = (body: Buffer) =>
        fetch(`${node.url}/v1/conversations/${c}/attachments`, { method: 'POST', headers: { authorization: `Bearer ${tokenFor('alice')}`, 'content-type': 'text/plain' }, body: new Uint8Array(body) }).then(
          (r) => r.json() as Promise<any>,
        );
      const kept = await up(Buffer.from('kept'));
      // Attached within the orphan period (4 s), so it must stay.
      const attached = await alice.post(`/v1/conversations/${c}/messages`, { clientMessageId: 'k', text: 'k', attachments: [kept.attachment.id] });
      expect(attached.status).toBe(201);
      const orphans = [await up(Buffer.from('orphan one')), await up(Buffer.from('orphan two'))];
      // Batches of one: two ticks at least, each bounded.
      await eventually(async () => {
        const events = await node.store.readStream(`conversation-${c}`);
        const discarded = events.filter((e) => e.type === 'AttachmentDiscarded').map((e) => (e.data as any).attachmentId);
        expect(discarded.sort()).toEqual(orphans.map((o) => o.attachment.id).sort());
      });
      await eventually(() => expect(blobFiles(node.dataDir)).toHaveLength(1));
      const late = await alice.post(`/v1/conversations/${c}/messages`, { clientMessageId: 'late', text: 'x', attachments: [orphans[0].attachment.id] });
      expect(late.body.code).toBe('attachment_not_found');
      const link = await alice.get(`/v1/conversations/${c}/attachments/${kept.attachment.id}/url`);
      expect(await (await fetch(node.url + link.body.url)).text()).toBe('kept');
    } finally {
      await node.destroy();
    }
  });
});
