/**
 * Edit latency peer to peer versus through the server, in one run: two headless Chromium
 * peers (test/helpers/p2p-pages.ts) on one conversation's notes, a node in this process.
 * Alice inserts `#n#`, Bob's page answers with `!n!`, Alice times the round trip in her
 * page (one clock, no skew between pages).
 *
 *   p2p     both server connections paused: only the WebRTC data channel carries edits
 *   server  WebRTC disconnected: edits go alice → node → bob and back (the node checks and
 *           appends each update to its log before it relays it)
 *
 *   npx tsx bench/p2p-latency.ts [edits per path = 100]
 *
 * Loopback on a shared 2-core machine: the absolute figures say little about a real
 * network (where P2P also saves the detour through the server); the ratio is the point.
 */
import type { Page } from 'playwright-core';
import { docNames } from '../protocol/index.js';
import { eventually } from '../test/helpers/eventually.js';
import { api } from '../test/helpers/http.js';
import { startTestNode, tokenFor } from '../test/helpers/node.js';
import { startPeerPages } from '../test/helpers/p2p-pages.js';

const edits = Number(process.argv[2] ?? 100);

const inPage = <T>(p: Page, f: () => T) => p.evaluate(f);

async function measure(alice: Page, from: number, count: number): Promise<number[]> {
  const times: number[] = [];
  // A few unmeasured round trips first: connections and JIT warm up.
  for (let i = 0; i < count + 5; i++) {
    const ms = await alice.evaluate((n) => (window as any).roundTrip(n) as Promise<number>, from + i);
    if (i >= 5) times.push(ms);
  }
  return times.sort((a, b) => a - b);
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const summary = (sorted: number[]) =>
  `median ${quantile(sorted, 0.5).toFixed(2)} ms  p90 ${quantile(sorted, 0.9).toFixed(2)} ms  min ${sorted[0]!.toFixed(2)} ms  (n=${sorted.length})`;

async function main(): Promise<void> {
  const node = await startTestNode({ logLevel: 'error' });
  const pages = await startPeerPages();
  try {
    const created = await api(node.url, tokenFor('alice')).post('/v1/conversations', { title: 'bench', members: ['bob'] });
    const doc = docNames.notes(created.body.id);
    const alice = await pages.open(node.url, tokenFor('alice'), doc);
    const bob = await pages.open(node.url, tokenFor('bob'), doc);
    await inPage(bob, () => ((window as any).echoing = true));
    await eventually(async () => {
      if ((await inPage(alice, () => (window as any).directPeers())) !== 1) throw new Error('no direct connection yet');
    }, 30_000);

    for (const p of [alice, bob]) await inPage(p, () => (window as any).s.server.disconnect());
    const p2p = await measure(alice, 0, edits);

    for (const p of [alice, bob]) await inPage(p, () => ((window as any).s.peers.disconnect(), (window as any).s.server.connect()));
    await eventually(async () => {
      for (const p of [alice, bob]) {
        if ((await inPage(p, () => (window as any).directPeers())) !== 0) throw new Error('still connected directly');
        if ((await inPage(p, () => (window as any).serverStatus())) !== 'connected') throw new Error('server not connected');
      }
    }, 30_000);
    const server = await measure(alice, 1_000_000, edits);

    console.log(`edit round trip alice → bob → alice, ${edits} edits each, loopback`);
    console.log(`  peer to peer (WebRTC):  ${summary(p2p)}`);
    console.log(`  through the server:     ${summary(server)}`);
    console.log(`  server / p2p (median):  ${(quantile(server, 0.5) / quantile(p2p, 0.5)).toFixed(2)}x`);
  } finally {
    await pages.close();
    await node.destroy();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
