/**
 * Hybrid peer-to-peer with real WebRTC: two headless Chromium pages (separate contexts) on
 * loopback, each attached to a conversation's notes with client-lib's `syncWithPeers` and
 * the stock y-webrtc provider, signaling through the node (test/helpers/p2p-pages.ts).
 *
 * - An edit made while its sender's server connection is down reaches the other peer:
 *   only the direct connection could have carried it; the server still gets it (the
 *   receiving peer passes it on) and stores it.
 * - With the node stopped, the peers keep exchanging edits and awareness.
 * - When the node returns on the same data dir, the state it serves to a fresh client
 *   equals both peers'.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docNames } from '../../protocol/index.js';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { startTestNode, tokenFor, type TestNode } from '../helpers/node.js';
import { serverText, startPeerPages, type PeerPages } from '../helpers/p2p-pages.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir('parley-p2p-');
let node: TestNode | null = null;
let pages: PeerPages;

beforeAll(async () => {
  pages = await startPeerPages();
});

afterAll(async () => {
  await pages?.close();
  await node?.destroy();
  dir.remove();
});

const text = (p: Page) => p.evaluate(() => (window as any).text() as string);
const insert = (p: Page, s: string) => p.evaluate((t) => (window as any).insert(t), s);
const serverStatus = (p: Page) => p.evaluate(() => (window as any).serverStatus() as string);
const directPeers = (p: Page) => p.evaluate(() => (window as any).directPeers() as number);

describe('hybrid peer-to-peer in Chromium', () => {
  it('edits flow peer to peer, keep flowing while the node is down, and the node ends up with the same state', async () => {
    node = await startTestNode({ dataDir: dir.path });
    const port = node.port;
    const created = await api(node.url, tokenFor('alice')).post('/v1/conversations', { title: 'p2p', members: ['bob'] });
    expect(created.status).toBe(201);
    const doc = docNames.notes(created.body.id);
    const url = node.url;

    const alice = await pages.open(url, tokenFor('alice'), doc);
    const bob = await pages.open(url, tokenFor('bob'), doc);
    await eventually(async () => {
      expect(await directPeers(alice)).toBe(1);
      expect(await directPeers(bob)).toBe(1);
      expect(await serverStatus(alice)).toBe('connected');
    }, 30_000);

    // Alice's server connection is down: only the direct connection can bring her edit to Bob.
    await alice.evaluate(() => (window as any).s.server.disconnect());
    expect(await serverStatus(alice)).toBe('disconnected');
    await insert(alice, 'direct;');
    await eventually(async () => expect(await text(bob)).toContain('direct;'));
    expect(await serverStatus(alice)).toBe('disconnected');
    // Bob passes it on: the node checks, logs and serves it while Alice is still offline.
    await eventually(async () => expect(await serverText(url, tokenFor('bob'), doc)).toContain('direct;'));
    await alice.evaluate(() => (window as any).s.server.connect());

    await node.close();
    node = null;
    await eventually(async () => {
      expect(await serverStatus(alice)).not.toBe('connected');
      expect(await serverStatus(bob)).not.toBe('connected');
    });
    await insert(alice, 'alice-offline;');
    await insert(bob, 'bob-offline;');
    await alice.evaluate(() => (window as any).s.awareness.setLocalStateField('typing', 'alice'));
    await eventually(async () => {
      expect(await text(alice)).toContain('bob-offline;');
      expect(await text(bob)).toContain('alice-offline;');
      const typing = await bob.evaluate(() => [...(window as any).s.states().values()].map((s: any) => s.typing));
      expect(typing).toContain('alice');
    });

    node = await startTestNode({ dataDir: dir.path, port });
    await eventually(async () => {
      expect(await serverStatus(alice)).toBe('connected');
      expect(await serverStatus(bob)).toBe('connected');
    }, 30_000);
    await eventually(async () => {
      const [a, b, stored] = await Promise.all([text(alice), text(bob), serverText(url, tokenFor('alice'), doc)]);
      expect(a).toBe(b);
      expect(stored).toBe(a);
      for (const part of ['direct;', 'alice-offline;', 'bob-offline;']) expect(stored).toContain(part);
    });
  }, 120_000);
});
