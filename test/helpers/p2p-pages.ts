/**
 * Peers in headless Chromium for the peer-to-peer tests and bench/p2p-latency.ts: a page
 * (test/browser/p2p-page.ts) bundling client-lib's `syncWithPeers` with the stock y-webrtc
 * `WebrtcProvider` (esbuild, platform browser), served from 127.0.0.1; each peer gets a browser context of its own,
 * so no BroadcastChannel joins them behind WebRTC's back. The page talks to the node
 * directly (WebSockets need no CORS). In the page:
 *
 *   attach(nodeUrl, token, docName)   syncWithPeers on a new Y.Doc
 *   text() / insert(s)                the document's text
 *   directPeers()                     WebRTC connections that are up
 *   serverStatus()                    the DocumentSync status
 *   echoing = true                    answers every `#n#` a peer inserts with `!n!`
 *   roundTrip(n)                      inserts `#n#`, resolves with the ms until `!n!` arrives
 */
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from './chromium.js';
import { DocumentSync, TEXT_NAME, type WebSocketLike } from '../../client-lib/yjs/index.js';
import WebSocket from 'ws';

const ENTRY = fileURLToPath(new URL('../browser/p2p-page.ts', import.meta.url));

const PAGE = `<!doctype html><meta charset="utf-8"><title>p2p</title><script type="module" src="/p2p.js"></script>`;

export interface PeerPages {
  browser: Browser;
  origin: string;
  /** A page in a context of its own, attached to `docName` on the node as `token`'s user. */
  open(nodeUrl: string, token: string, docName: string): Promise<Page>;
  close(): Promise<void>;
}

export async function startPeerPages(): Promise<PeerPages> {
  const bundle = await build({
    entryPoints: [ENTRY],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    target: 'es2022',
    // simple-peer's stream library reads `global` and `process` (Node names) at load time.
    define: { global: 'globalThis', 'process.env.NODE_DEBUG': 'false' },
    banner: { js: 'globalThis.process ??= { env: {}, nextTick: (f, ...a) => queueMicrotask(() => f(...a)), browser: true, version: "" };' },
  });
  const code = bundle.outputFiles[0]!.text;
  const server: Server = createServer((req, res) => {
    if (req.url === '/') return res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
    if (req.url === '/p2p.js') return res.writeHead(200, { 'content-type': 'text/javascript' }).end(code);
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    // Host candidates as real addresses (not mDNS names nobody here resolves), loopback included.
  const browser = await launchChromium(['--disable-features=WebRtcHideLocalIpsWithMdns', '--allow-loopback-in-peer-connection']);
  return {
    browser,
    origin,
    async open(nodeUrl, token, docName) {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(origin + '/');
      await page.waitForFunction(() => (window as any).loaded === true);
      await page.evaluate(([u, t, d]) => (window as any).attach(u, t, d), [nodeUrl, token, docName] as const);
      return page;
    },
    async close() {
      await browser.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** The document's text as the node serves it to a fresh client (Node, bearer token at the upgrade). */
export async function serverText(nodeUrl: string, token: string, docName: string): Promise<string> {
  const sync = new DocumentSync({
    url: nodeUrl,
    docName,
    token: () => token,
    backoff: { initialMs: 50, maxMs: 200 },
    openSocket: (url, t) => new WebSocket(url, { headers: { authorization: `Bearer ${t}` } }) as unknown as WebSocketLike,
  });
  try {
    await sync.whenSynced();
    return sync.doc.getText(TEXT_NAME).toString();
  } finally {
    await sync.destroy();
  }
}
