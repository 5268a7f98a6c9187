/**
 * Draining a node (what SIGTERM does, through node.close()): once it refuses new work, a
 * new request gets 503 `unavailable` and a new socket the try-again close (4503), while
 * a command already in flight still commits and is acked before its socket closes with
 * 4503; the log holds it once. The append is held at a gate so "in flight" is a fact the
 * test waits for, not a race it hopes to win.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CLOSE } from '../../protocol/index.js';
import { SqliteEventStore, decorate } from '../../engine/store/index.js';
import { api } from '../helpers/http.js';
import { startTestNode, tokenFor, type TestNode } from '../helpers/node.js';
import { tempDir } from '../helpers/temp-dir.js';
import { connectWs } from '../helpers/ws-client.js';

const dir = tempDir();
let node: TestNode | undefined;
afterAll(async () => {
  await node?.destroy();
  dir.remove();
});

describe('drain', () => {
  it('refuses new work, acks the command in flight, then closes sockets with 4503', async () => {
    const sqlite = new SqliteEventStore({ file: join(dir.path, 'events.sqlite') });
    let held: { entered: () => void; release: Promise<void> } | undefined;
    const store = decorate(sqlite, {
      append: async (stream, events, options) => {
        const gate = stream.startsWith('conversation-') ? held : undefined;
        if (gate) {
          held = undefined; // one append only
          gate.entered();
          await gate.release;
        }
        return sqlite.append(stream, events, options);
      },
    });
    node = await startTestNode({ dataDir: dir.path, store });
    const alice = api(node.url, tokenFor('alice'));
    const { id } = (await alice.post('/v1/conversations', { title: 'drain', members: ['bob'] })).body as { id: string };
    const ws = await connectWs(node.url, tokenFor('bob'));
    await ws.next((f) => f.type === 'ready');

    // bob's post reaches the store and waits there.
    let release!: () => void;
    const entered = new Promise<void>((entered) => (held = { entered, release: new Promise((r) => (release = r)) }));
    ws.send({ type: 'command', id: 'in-flight', command: { type: 'PostMessage', conversationId: id, text: 'in flight at SIGTERM' } });
    await entered;

    const closing = node.close(); // drainSeconds 0: new work is refused at once
    const refused = await alice.post(`/v1/conversations/${id}/messages`, { clientMessageId: 'late', text: 'too late' });
    expect(refused).toMatchObject({ status: 503, body: { code: 'unavailable' } });
    expect((await api(node.url).get('/ready')).body).toMatchObject({ status: 'not_ready', failed: ['draining'] });
    const late = await connectWs(node.url, tokenFor('alice'));
    expect((await late.closed).code).toBe(CLOSE.tryAgainLater);
    // A document sync socket is refused before the upgrade completes (its provider retries elsewhere).
    expect(await upgradeStatus(`${node.url.replace('http', 'ws')}/v1/sync/notes:${id}?token=${tokenFor('alice')}`)).toBe(503);
    expect(ws.ws.readyState).toBe(ws.ws.OPEN); // held open for the command it has taken

    release();
    const ack = await ws.next((f) => f.type === 'ack' && f.id === 'in-flight');
    expect(ack).toMatchObject({ result: { seq: expect.any(Number) } });
    expect((await ws.closed).code).toBe(CLOSE.tryAgainLater);
    // The ack came before the close frame (frames are recorded in arrival order, and the close resolves after).
    expect(ws.types.at(-1)).toBe('ack');
    await closing;

    const reopened = new SqliteEventStore({ file: join(dir.path, 'events.sqlite') });
    const texts = (await reopened.readStream(`conversation-${id}`)).filter((e) => e.type === 'MessagePosted').map((e) => (e.data as { text: string }).text);
    await reopened.close();
    expect(texts).toEqual(['in flight at SIGTERM']);
  });
});

/** The HTTP status an upgrade was answered with (101 when it was accepted). */
function upgradeStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      socket.terminate();
    });
    socket.once('open', () => {
      resolve(101);
      socket.terminate();
    });
    socket.once('error', reject);
  });
}
