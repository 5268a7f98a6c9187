/**
 * A real node for a test file and the client-package clients its tests open: started
 * before the file's tests, and every client closed before the node is destroyed after
 * them. Four e2e files had the same set-up written out.
 */
import { afterAll, beforeAll } from 'vitest';
import { createClient, MemoryStorage, when, type ParleyClient } from '../../client-lib/node.js';
import type { StartNodeOptions } from '../../engine/index.js';
import { startTestNode, tokenFor, type TestNode } from './node.js';

export interface ClientNode {
  /** The file's node (set once its beforeAll ran). */
  readonly node: TestNode;
  /** A client of `userId` with in-memory storage, online. */
  client(userId: string): Promise<ParleyClient>;
}

export function useClientNode(options?: StartNodeOptions): ClientNode {
  let node: TestNode | undefined;
  const clients: ParleyClient[] = [];
  beforeAll(async () => {
    node = await startTestNode(options);
  });
  afterAll(async () => {
    for (const c of clients) await c.close();
    await node?.destroy();
  });
  const started = (): TestNode => {
    if (!node) throw new Error('the test node is not started yet (use it inside a test or hook)');
    return node;
  };
  return {
    get node() {
      return started();
    },
    async client(userId) {
      const c = await createClient({ url: started().url, userId, token: () => tokenFor(userId), storage: new MemoryStorage() });
      clients.push(c);
      await when(c.connection, (s) => s.status === 'online');
      return c;
    },
  };
}
