/** A client flooding a document socket is cut off with a transient close; others carry on. */
import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLOSE } from '../../protocol/index.js';
import { api } from '../helpers/http.js';
import { startTestNode, tokenFor, type TestNode } from '../helpers/node.js';

let node: TestNode;
beforeAll(async () => {
  node = await startTestNode({ rateLimitPerConnection: { perSecond: 20, burst: 40 }, rateLimitPerUser: { perSecond: 1000, burst: 1000 } });
});
afterAll(async () => {
  await node.destroy();
});

function open(docName: string, userId: string): Promise<WebSocket> {
  const ws = new WebSocket(`${node.url.replace('http', 'ws')}/v1/sync/${docName}`, { headers: { authorization: `Bearer ${tokenFor(userId)}` } });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

describe('sync rate limits', () => {
  it('closes a flooding document socket with 4503 and keeps serving the others', async () => {
    const { body: c } = await api(node.url, tokenFor('alice')).post('/v1/conversations', { title: 'Flood', members: ['bob'] });
    const flooder = await open(`notes:${c.id}`, 'alice');
    // The document is open once the server speaks (sync step 1): from then on frames meet
    // the rate limit; before it they wait in a small bound of their own (32 frames).
    await new Promise((r) => flooder.once('message', r));
    const closed = new Promise<{ code: number; reason: string }>((r) => flooder.once('close', (code, reason) => r({ code, reason: reason.toString() })));
    const doc = new Y.Doc();
    for (let i = 0; i < 300 && flooder.readyState === WebSocket.OPEN; i++) {
      const before = Y.encodeStateVector(doc);
      doc.getText('text').insert(0, 'x');
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, 0); // sync message
      syncProtocol.writeUpdate(encoder, Y.encodeStateAsUpdate(doc, before));
      flooder.send(encoding.toUint8Array(encoder));
    }
    expect(await closed).toEqual({ code: CLOSE.tryAgainLater, reason: 'rate_limited' });

    const bob = await open(`notes:${c.id}`, 'bob');
    const answered = new Promise((r) => bob.once('message', r));
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, 0);
    syncProtocol.writeSyncStep1(encoder, new Y.Doc());
    bob.send(encoding.toUint8Array(encoder));
    await answered;
    expect(bob.readyState).toBe(WebSocket.OPEN);
    bob.close();
  });
});
