/**
 * Attachments in S3-compatible storage: a real S3 API server (s3rver, an npm package that
 * implements the S3 REST API over a directory) started by the test on a free port, and the
 * node talking to it through @aws-sdk/client-s3 exactly as it would to AWS or MinIO.
 */
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachmentSettings } from '../../engine/node/config/index.js';
import { api } from '../helpers/http.js';
import { eventually } from '../helpers/eventually.js';
import { startTestNode, tokenFor, TEST_SECRET, type TestNode } from '../helpers/node.js';
import { tempDir } from '../helpers/temp-dir.js';
import { pngHeader } from '../helpers/attachments.js';

const BUCKET = 'parley-attachments';

describe('attachments in S3-compatible storage (s3rver)', () => {
  const dir = tempDir();
  let server: S3rver;
  let s3: S3Client;
  let node: TestNode;

  const objects = async () => ((await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }))).Contents ?? []).map((o) => o.Key);

  beforeAll(async () => {
    server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: dir.path });
    const { port } = await server.run();
    const endpoint = `http://127.0.0.1:${port}`;
    s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    const env = {
      PARLEY_S3_BUCKET: BUCKET,
      PARLEY_S3_ENDPOINT: endpoint,
      PARLEY_S3_ACCESS_KEY_ID: 'S3RVER',
      PARLEY_S3_SECRET_ACCESS_KEY: 'S3RVER',
      PARLEY_ATTACHMENT_ORPHAN_SECONDS: '4',
      PARLEY_ATTACHMENT_COLLECT_SECONDS: '1',
    };
    node = await startTestNode({ attachments: attachmentSettings(env, TEST_SECRET) });
  }, 60_000);
  afterAll(async () => {
    await node?.destroy();
    s3?.destroy();
    await server?.close();
    dir.remove();
  });

  it('stores the same bytes once as one object, serves them back, and removes an orphan', async () => {
    const alice = api(node.url, tokenFor('alice'));
    const c = (await alice.post('/v1/conversations', { title: 's3', members: [] })).body.id;
    const up = (body: Buffer, type: string) =>
      fetch(`${node.url}/v1/conversations/${c}/attachments?name=x`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokenFor('alice')}`, 'content-type': type },
        body: new Uint8Array(body),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));
    const png = pngHeader(30, 20, 5000);
    const a = await up(png, 'image/png');
    const b = await up(png, 'image/png');
    expect(a.status).toBe(201);
    expect(a.body.attachment).toMatchObject({ width: 30, height: 20, type: 'image/png' });
    expect(b.status).toBe(201);
    const keys = await objects();
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(/^parley\/attachments\/[0-9a-f]{2}\/[0-9a-f]{64}$/);

    const posted = await alice.post(`/v1/conversations/${c}/messages`, { clientMessageId: 'p', text: 'pic', attachments: [a.body.attachment.id] });
    expect(posted.status).toBe(201);
    const link = await alice.get(`/v1/conversations/${c}/attachments/${a.body.attachment.id}/url`);
    const res = await fetch(node.url + link.body.url);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(png)).toBe(true);

    // b (same bytes) is orphaned, but its blob stays: a is attached and uses it.
    const orphan = await up(Buffer.from('only in an orphan'), 'text/plain');
    expect(await objects()).toHaveLength(2);
    await eventually(async () => expect(await objects()).toHaveLength(1));
    const events = await node.store.readStream(`conversation-${c}`);
    const discarded = events.filter((e) => e.type === 'AttachmentDiscarded').map((e) => (e.data as any).attachmentId);
    expect(discarded.sort()).toEqual([b.body.attachment.id, orphan.body.attachment.id].sort());
    expect((await fetch(node.url + link.body.url)).status).toBe(200);
  }, 60_000);
});
