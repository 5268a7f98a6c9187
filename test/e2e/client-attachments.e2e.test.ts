/**
 * Attachments through the client package against a real node: upload a Node Buffer and a
 * Blob (what a browser File is), attach both on a post, see them on the message another
 * member receives, fetch the bytes through the download URL; a refusal is a coded error.
 */
import { describe, expect, it } from 'vitest';
import { isParleyError, when } from '../../client-lib/node.js';
import { useClientNode } from '../helpers/client-node.js';
import { pngHeader } from '../helpers/attachments.js';

const fixture = useClientNode();
const { client } = fixture;

describe('client attachments', () => {
  it('uploads a Buffer and a Blob, attaches them, and another member downloads them', async () => {
    const alice = await client('alice');
    const bob = await client('bob');
    const local = await alice.createConversation('Photos', ['bob']);
    await when(alice.outbox, (items) => items.length === 0);
    const id = alice.resolveId(local)!;

    const png = pngHeader(64, 32, 100);
    const image = await alice.attachments.upload(id, png, { name: 'pic.png', type: 'image/png' });
    expect(image).toMatchObject({ name: 'pic.png', type: 'image/png', width: 64, height: 32, size: png.length });
    const notes = await alice.attachments.upload(id, new Blob(['meeting notes'], { type: 'text/plain' }), { name: 'notes.txt' });
    expect(notes).toMatchObject({ name: 'notes.txt', type: 'text/plain', size: 13 });

    const room = await alice.conversation(id);
    await room.send('see attached', { attachments: [image.id, notes.id] });
    const bobsRoom = await bob.conversation(id);
    const seen = await when(bobsRoom.messages, (m) => m.some((x) => x.text === 'see attached'));
    const message = seen.find((x) => x.text === 'see attached')!;
    expect(message.attachments?.map((a) => a.name)).toEqual(['pic.png', 'notes.txt']);

    const link = await bob.attachments.downloadUrl(id, image.id);
    expect(link.url.startsWith(fixture.node.url)).toBe(true);
    const res = await fetch(link.url);
    expect(Buffer.from(await res.arrayBuffer()).equals(png)).toBe(true);
  });

  it('reports a refused upload as a coded error', async () => {
    const carol = await client('carol');
    const local = await carol.createConversation('Mine', []);
    await when(carol.outbox, (items) => items.length === 0);
    const id = carol.resolveId(local)!;
    const err = await carol.attachments.upload(id, Buffer.from('<html>'), { type: 'image/png' }).catch((e: unknown) => e);
    expect(isParleyError(err) && err.code).toBe('attachment_type_refused');
    const missing = await carol.attachments.downloadUrl(id, 'no-such-attachment').catch((e: unknown) => e);
    expect(isParleyError(missing) && missing.code).toBe('attachment_not_found');
  });
});
