/**
 * A killed upload leaves nothing half-visible: a real `parley serve` process is killed
 * (SIGKILL) while a file streams in; after a restart no blob, event or temp file of it
 * remains, and the same file uploads whole.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { api } from '../helpers/http.js';
import { eventually } from '../helpers/eventually.js';
import { spawnNode, tokenFor, type SpawnedNode } from '../helpers/node.js';
import { tempDir } from '../helpers/temp-dir.js';
import { rawUpload } from '../helpers/attachments.js';

describe('an upload cut by a killed node', () => {
  const dir = tempDir();
  let node: SpawnedNode | undefined;
  afterAll(async () => {
    await node?.kill('SIGKILL');
    dir.remove();
  });

  it('leaves no blob, no event and no temp file; the file uploads whole after the restart', async () => {
    const env = { PARLEY_ATTACHMENT_IDLE_SECONDS: '60' };
    node = await spawnNode(dir.path, env);
    const alice = api(node.url, tokenFor('alice'));
    const conversationId = (await alice.post('/v1/conversations', { title: 'k', members: [] })).body.id;
    const file = Buffer.alloc(200_000, 0x61);
    const sha = createHash('sha256').update(file).digest('hex');
    const incoming = join(dir.path, 'attachments', 'incoming');
    const socket = await rawUpload(
      node.url,
      `/v1/conversations/${conversationId}/attachments?name=big.txt`,
      { authorization: `Bearer ${tokenFor('alice')}`, 'content-type': 'text/plain', 'content-length': String(file.length) },
      file.subarray(0, 120_000),
    );
    socket.on('error', () => undefined);
    // The node is writing the temp file: kill it mid-upload.
    await eventually(() => expect(existsSync(incoming) && readdirSync(incoming).length).toBe(1));
    await node.kill('SIGKILL');
    socket.destroy();
    expect(existsSync(join(dir.path, 'attachments', 'blobs', sha.slice(0, 2), sha))).toBe(false);

    node = await spawnNode(dir.path, env);
    expect(readdirSync(incoming)).toEqual([]);
    const again = api(node.url, tokenFor('alice'));
    const before = await again.get(`/v1/conversations/${conversationId}/messages?after=0`);
    expect(before.status).toBe(200);
    const whole = await fetch(`${node.url}/v1/conversations/${conversationId}/attachments?name=big.txt`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokenFor('alice')}`, 'content-type': 'text/plain' },
      body: new Uint8Array(file),
    });
    expect(whole.status).toBe(201);
    const answer = (await whole.json()) as any;
    const uploaded = answer.attachment;
    // The only upload the conversation knows is the whole one: seq 2, right after its creation.
    expect(answer.seq).toBe(2);
    const link = await again.get(`/v1/conversations/${conversationId}/attachments/${uploaded.id}/url`);
    const bytes = Buffer.from(await (await fetch(node.url + link.body.url)).arrayBuffer());
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(sha);
    expect(existsSync(join(dir.path, 'attachments', 'blobs', sha.slice(0, 2), sha))).toBe(true);
  }, 180_000);
});
