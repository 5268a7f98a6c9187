/**
 * `client.search()`: full-text search over the user's conversations through the client
 * package, one conversation (also by the local id it was created under), and a coded
 * error when the node refuses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, isParleyError, MemoryStorage, when, type ParleyClient } from '../../client-lib/node.js';
import { eventually } from '../helpers/eventually.js';
import { startTestNode, tokenFor, type TestNode } from '../helpers/node.js';

let node: TestNode;
let alice: ParleyClient;

beforeAll(async () => {
  node = await startTestNode();
  alice = await createClient({ url: node.url, userId: 'alice', token: () => tokenFor('alice'), storage: new MemoryStorage() });
  await when(alice.connection, (s) => s.status === 'online');
});

afterAll(async () => {
  await alice?.close();
  await node?.destroy();
});

describe('client search', () => {
  it('finds messages across conversations, or in one named by its local id', async () => {
    const first = await alice.createConversation('Trip', ['bob']);
    const second = await alice.createConversation('Work', ['bob']);
    await (await alice.conversation(first)).send('pack the blue tent');
    await (await alice.conversation(second)).send('the blue report is due');
    await when(alice.outbox, (items) => items.length === 0);

    const everywhere = await eventually(async () => {
      const hits = await alice.search('blue');
      expect(hits).toHaveLength(2);
      return hits;
    });
    expect(everywhere.map((h) => h.snippet).sort()).toEqual(['pack the [blue] tent', 'the [blue] report is due']);
    const inFirst = await alice.search('blue', { conversationId: first });
    expect(inFirst.map((h) => [h.conversationId, h.author, h.snippet])).toEqual([[alice.resolveId(first), 'alice', 'pack the [blue] tent']]);
    expect(await alice.search('blue', { limit: 1 })).toHaveLength(1);
    expect(await alice.search('nothing-like-this')).toEqual([]);
  });

  it('rejects with the coded error the node sends', async () => {
    const err = await alice.search('x'.repeat(501)).catch((e: unknown) => e);
    expect(isParleyError(err) && err.code).toBe('invalid_request');
  });
});
