/**
 * Editing through client-lib: a message body edited offline on two of its author's
 * devices merges character-wise, and every member's message list shows the merged text.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, FileStorage, nodeDocuments, type ParleyClient } from '../../client-lib/node.js';
import { eventually } from '../helpers/eventually.js';
import { startTestNode, tokenFor, type TestNode } from '../helpers/node.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir();
let node: TestNode;
const clients: ParleyClient[] = [];
beforeAll(async () => {
  node = await startTestNode();
});
afterAll(async () => {
  for (const c of clients) await c.close();
  await node.destroy();
  dir.remove();
});

async function device(userId: string, name: string) {
  const documents = nodeDocuments();
  const client = await createClient({
    url: node.url,
    userId,
    token: () => tokenFor(userId),
    storage: await FileStorage.open(`${dir.path}/${name}.json`),
    extensions: [documents],
  });
  clients.push(client);
  return { client, documents };
}

describe('client-lib documents', () => {
  it('merges offline edits of a message body from two devices and shows the result to every member', async () => {
    const phone = await device('alice', 'alice-phone');
    const laptop = await device('alice', 'alice-laptop');
    const bob = await device('bob', 'bob');
    const local = await phone.client.createConversation('Edits', ['bob']);
    const room = await phone.client.conversation(local);
    await room.send('meet at noon');
    await eventually(() => expect(room.messages.get().find((m) => !m.pending && m.text === 'meet at noon')).toBeTruthy());
    const conversationId = phone.client.resolveId(local) ?? local;
    const message = room.messages.get().find((m) => m.text === 'meet at noon')!;

    const a = phone.documents.messageBody(conversationId, message.messageId, message.text);
    const b = laptop.documents.messageBody(conversationId, message.messageId, message.text);
    await Promise.all([a.whenSynced(), b.whenSynced()]);
    a.disconnect();
    b.disconnect();
    a.doc.getText('text').insert(0, 'Please ');
    b.doc.getText('text').insert('meet at noon'.length, ' tomorrow');
    a.connect();
    b.connect();

    const merged = 'Please meet at noon tomorrow';
    await eventually(() => {
      expect(a.doc.getText('text').toString()).toBe(merged);
      expect(b.doc.getText('text').toString()).toBe(merged);
    }, 10_000);
    const bobRoom = await bob.client.conversation(conversationId);
    await eventually(() => expect(bobRoom.messages.get().map((m) => m.text)).toContain(merged), 10_000);
  });

  it('keeps a draft to its owner', async () => {
    const alice = await device('alice', 'alice-drafts');
    const { body } = await fetch(`${node.url}/v1/conversations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokenFor('alice')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'Drafts', members: ['bob'] }),
    }).then(async (r) => ({ body: await r.json() }));
    const draft = alice.documents.draft(body.id);
    await draft.whenSynced();
    draft.doc.getText('text').insert(0, 'half a thought');
    await draft.flush();
    const other = (await device('alice', 'alice-other')).documents.draft(body.id);
    await eventually(() => expect(other.doc.getText('text').toString()).toBe('half a thought'), 10_000);
  });
});
