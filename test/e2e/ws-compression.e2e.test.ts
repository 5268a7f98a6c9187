/**
 * permessage-deflate is negotiated only when the operator turns it on (PARLEY_WS_DEFLATE):
 * off by default, a client that offers it (every browser does) gets plain frames on /v1/ws
 * and /v1/sync; on, a catch-up page crosses the wire compressed. Bytes on the wire are read
 * from the client's TCP socket, the decoded sizes from the frames it hands over.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { docNames } from '../../client-lib/yjs/index.js';
import { api } from '../helpers/http.js';
import { startTestNode, tokenFor, type TestNode } from '../helpers/node.js';

const NO_LIMIT = { perSecond: 0, burst: 0 };
const POSTS = 60;
let plain: TestNode;
let compressing: TestNode;

beforeAll(async () => {
  [plain, compressing] = await Promise.all([
    startTestNode({ rateLimitPerConnection: NO_LIMIT, rateLimitPerUser: NO_LIMIT }),
    startTestNode({ rateLimitPerConnection: NO_LIMIT, rateLimitPerUser: NO_LIMIT, wsDeflate: true }),
  ]);
});
afterAll(async () => {
  await Promise.all([plain?.destroy(), compressing?.destroy()]);
});

/** A socket offering permessage-deflate, as browsers do; `onMessage` is attached before it opens. */
function open(url: string, path: string, onMessage?: (ws: WebSocket, data: Buffer) => void): Promise<WebSocket> {
  const ws = new WebSocket(url.replace(/^http/, 'ws') + path, { perMessageDeflate: true, headers: { authorization: `Bearer ${tokenFor('alice')}` } });
  if (onMessage) ws.on('message', (data: Buffer) => onMessage(ws, data));
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

const bytesRead = (ws: WebSocket) => (ws as unknown as { _socket: { bytesRead: number } })._socket.bytesRead;

/** Wire bytes and decoded bytes of the frames of one conversation's catch-up, up to `caught-up`. */
async function catchUp(node: TestNode): Promise<{ conversationId: string; extensions: string; wire: number; decoded: number }> {
  const alice = api(node.url, tokenFor('alice'));
  const { body: c } = await alice.post('/v1/conversations', { title: 'Compressible', members: ['bob'] });
  for (let i = 0; i < POSTS; i++) await alice.post(`/v1/conversations/${c.id}/messages`, { clientMessageId: `m${i}`, text: `the same words again and again, message ${i}` });
  let wireAtReady = 0;
  let decoded = 0;
  let caughtUp!: () => void;
  const done = new Promise<void>((resolve) => (caughtUp = resolve));
  const ws = await open(node.url, '/v1/ws', (socket, data) => {
    const f = JSON.parse(data.toString('utf8')) as { type: string };
    if (f.type === 'ready') {
      wireAtReady = bytesRead(socket);
      socket.send(JSON.stringify({ type: 'subscribe', conversations: [{ conversationId: c.id, afterSeq: 0 }] }));
      return;
    }
    decoded += data.length;
    if (f.type === 'caught-up') caughtUp();
  });
  await done;
  const wire = bytesRead(ws) - wireAtReady;
  const extensions = ws.extensions;
  ws.close();
  return { conversationId: c.id, extensions, wire, decoded };
}

describe('permessage-deflate', () => {
  it('is not negotiated by default, on /v1/ws or /v1/sync, and frames cross the wire as they are', async () => {
    const r = await catchUp(plain);
    expect(r.extensions).toBe('');
    expect(r.wire).toBeGreaterThanOrEqual(r.decoded);
    const sync = await open(plain.url, '/v1/sync/' + docNames.notes(r.conversationId));
    expect(sync.extensions).toBe('');
    sync.terminate();
  });

  it('is negotiated when turned on, and a catch-up page crosses the wire compressed', async () => {
    const r = await catchUp(compressing);
    expect(r.extensions).toContain('permessage-deflate');
    expect(r.decoded).toBeGreaterThan(4 * 1024);
    expect(r.wire).toBeLessThan(r.decoded / 2);
  });
});
