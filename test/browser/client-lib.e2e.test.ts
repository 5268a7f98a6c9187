/**
 * client-lib in a real browser: the browser entry bundled with esbuild (platform browser,
 * so a Node-only import fails the build), loaded into headless Chromium, talking to a
 * real node.
 *
 * The page is served by a small server on 127.0.0.1 that also proxies `/v1/*` (HTTP and
 * the WebSocket upgrade) to the node, so the page and the API share one origin and the
 * node needs no CORS for this test.
 */
import { createServer, request, type Server } from 'node:http';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../helpers/chromium.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { startTestNode, tokenFor, type TestNode } from '../helpers/node.js';

const ENTRY = fileURLToPath(new URL('../../client-lib/index.ts', import.meta.url));
const PAGE = `<!doctype html><meta charset="utf-8"><title>parley</title>
<script type="module">import * as parley from '/client.js'; window.parley = parley; window.loaded = true;</script>`;

let node: TestNode;
let server: Server;
let origin: string;
let browser: Browser;

/** Serves the page and the bundle; forwards everything under /v1 (and WebSocket upgrades) to the node. */
function pageServer(bundle: string, nodePort: number): Server {
  const s = createServer((req, res) => {
    if (req.url === '/') return res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
    if (req.url === '/client.js') return res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    const upstream = request({ host: '127.0.0.1', port: nodePort, path: req.url, method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  s.on('upgrade', (req, socket, head) => {
    const upstream = connect(nodePort, '127.0.0.1', () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(lines.join('\r\n') + '\r\n\r\n');
      upstream.write(head);
      socket.pipe(upstream).pipe(socket);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  return s;
}

beforeAll(async () => {
  const result = await build({ entryPoints: [ENTRY], bundle: true, platform: 'browser', format: 'esm', write: false, target: 'es2022' });
  node = await startTestNode();
  server = pageServer(result.outputFiles[0]!.text, node.port);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  await node?.destroy();
});

async function load(page: Page): Promise<void> {
  await page.goto(origin + '/');
  await page.waitForFunction(() => (window as any).loaded === true);
}

describe('client-lib in Chromium', () => {
  it('loads, sends a message that reaches the server, and keeps an offline outbox in IndexedDB across a reload', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await load(page);
    const token = tokenFor('alice');

    const conversationId = await page.evaluate(async (token) => {
      const { createClient, IndexedDbStorage, when } = (window as any).parley;
      const storage = await IndexedDbStorage.open('parley-alice');
      const client = await createClient({ url: location.origin, userId: 'alice', token: () => token, storage, backoff: { initialMs: 50, maxMs: 200 } });
      await when(client.connection, (s: any) => s.status === 'online');
      const local = await client.createConversation('From the browser', ['bob']);
      const room = await client.conversation(local);
      await room.send('hello from chromium');
      await when(client.outbox, (items: unknown[]) => items.length === 0);
      await client.refreshConversations();
      // Offline now: this post goes to the IndexedDB outbox only; the page is then reloaded.
      client.goOffline();
      await room.send('written offline');
      return client.resolveId(local);
    }, token);
    expect(conversationId).toBeTruthy();
    const server = api(node.url, tokenFor('bob'));
    expect((await server.get(`/v1/conversations/${conversationId}/messages`)).body.messages.map((m: any) => m.text)).toEqual(['hello from chromium']);

    await page.reload();
    await page.waitForFunction(() => (window as any).loaded === true);
    const stored = await page.evaluate(async () => {
      const { IndexedDbStorage } = (window as any).parley;
      const storage = await IndexedDbStorage.open('parley-alice');
      const outbox = await storage.get('outbox/items');
      const conversations = await storage.get('conversations');
      await storage.close();
      return { outbox: outbox.map((i: any) => i.command.text), titles: conversations.map((c: any) => c.title) };
    });
    expect(stored).toEqual({ outbox: ['written offline'], titles: ['From the browser'] });

    const texts = await page.evaluate(async ({ token, conversationId }) => {
      const { createClient, IndexedDbStorage, when } = (window as any).parley;
      const storage = await IndexedDbStorage.open('parley-alice');
      const client = await createClient({ url: location.origin, userId: 'alice', token: () => token, storage });
      const room = await client.conversation(conversationId);
      await when(client.outbox, (items: unknown[]) => items.length === 0);
      await when(room.messages, (m: any[]) => m.length === 2 && m.every((x) => !x.pending));
      return room.messages.get().map((m: any) => `${m.seq}:${m.text}`);
    }, { token, conversationId });
    expect(texts).toEqual(['2:hello from chromium', '3:written offline']);
    await eventually(async () =>
      expect((await server.get(`/v1/conversations/${conversationId}/messages`)).body.messages.map((m: any) => m.text)).toEqual(['hello from chromium', 'written offline']),
    );
    expect(errors).toEqual([]);
    await context.close();
  });
});
