/**
 * Frames encoded once for many sockets, written through a real `ws` server socket to a
 * real client: the bytes are a valid text frame at every header size, the installed `ws`
 * still lets the fast path write them (else every shared frame would quietly take the
 * slower public `send`), and a frame that must wait behind `ws`'s own deflate keeps its
 * place. Frames built for one socket (strings) take the same one-Buffer path unless the
 * socket deflates, and writes held for a command's ack leave in one write, in order.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { EncodedFrame } from '../../engine/node/encoded-frame.js';
import { SendBuffer, sendBufferLimits } from '../../engine/node/send-buffer.js';
import { canWriteEncoded, holdWrites, releaseWrites } from '../../engine/node/socket-writes.js';
import { eventually } from '../helpers/eventually.js';

const opened: Array<{ close(): void }> = [];
afterEach(() => {
  for (const o of opened.splice(0)) o.close();
});

/** A server socket and the client connected to it, the client recording every text frame it gets. */
async function pair(deflate = false) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: deflate && { threshold: 1024 } });
  opened.push(wss);
  await once(wss, 'listening');
  const accepted = once(wss, 'connection') as Promise<[WebSocket]>;
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, { perMessageDeflate: deflate });
  opened.push(client);
  const received: string[] = [];
  client.on('message', (data, isBinary) => received.push(isBinary ? '<binary>' : data.toString()));
  const [server] = await accepted;
  await once(client, 'open');
  const buffer = new SendBuffer(server, sendBufferLimits(1 << 20, 30_000), { slowClosed: () => undefined });
  return { server, buffer, received };
}

const textOf = (bytes: number, tag: string) => JSON.stringify({ tag, pad: 'x'.repeat(Math.max(0, bytes - tag.length - 20)) });

describe('frames encoded once for many sockets', () => {
  it('arrive as the same text frames at every header size, on the fast path', async () => {
    const { server, buffer, received } = await pair();
    expect(canWriteEncoded(server)).toBe(true);
    // 7-bit, 16-bit and 64-bit payload lengths, their edges, and a multi-byte character.
    const texts = [textOf(10, 'a'), textOf(125, 'b'), textOf(126, 'c'), textOf(65_535, 'd'), textOf(65_536, 'e'), textOf(200_000, 'f'), '{"t":"é✓😀"}'];
    for (const t of texts) {
      const f = new EncodedFrame(t);
      expect(f.length).toBe(Buffer.byteLength(t));
      expect(f.toString()).toBe(t);
      buffer.send(f);
    }
    await eventually(() => expect(received).toHaveLength(texts.length));
    expect(received).toEqual(texts);
  });

  it('wait their turn behind a frame ws is still deflating', async () => {
    const { server, buffer, received } = await pair(true);
    const big = JSON.stringify({ n: 1, pad: 'y'.repeat(50_000) });
    buffer.send(big); // over the threshold: deflated in zlib's pool, asynchronously
    expect(canWriteEncoded(server)).toBe(false);
    buffer.send(new EncodedFrame('{"n":2}'));
    buffer.send('{"n":3}');
    await eventually(() => expect(received).toHaveLength(3));
    expect(received).toEqual([big, '{"n":2}', '{"n":3}']);
    expect(canWriteEncoded(server)).toBe(true);
  });

  it('frames built for one socket (strings) arrive the same at every header size', async () => {
    const { server, buffer, received } = await pair();
    const texts = [textOf(10, 'a'), textOf(125, 'b'), textOf(126, 'c'), textOf(65_535, 'd'), textOf(65_536, 'e'), '{"t":"é✓😀"}'];
    for (const t of texts) buffer.send(t);
    expect(canWriteEncoded(server)).toBe(true);
    await eventually(() => expect(received).toHaveLength(texts.length));
    expect(received).toEqual(texts);
  });

  it('leave a socket in one write while held, in order, and are let go at the end of the turn without a release', async () => {
    const { server, buffer, received } = await pair();
    const tcp = (server as unknown as { _socket: import('node:net').Socket })._socket;
    const calls = { write: 0, writev: 0 };
    const write = tcp._write.bind(tcp);
    const writev = tcp._writev!.bind(tcp);
    tcp._write = (...args: Parameters<typeof write>) => ((calls.write += 1), write(...args));
    tcp._writev = (...args: Parameters<typeof writev>) => ((calls.writev += 1), writev(...args));

    holdWrites(server);
    buffer.send(new EncodedFrame('{"n":1}'));
    buffer.send('{"n":2}');
    expect(calls).toEqual({ write: 0, writev: 0 });
    expect(server.bufferedAmount).toBeGreaterThan(0); // the send buffer's bounds see held bytes
    // Released by the first ack of a commit; the others, answered in the same round of microtasks, join it.
    releaseWrites(server);
    buffer.send('{"n":2.5}');
    expect(calls).toEqual({ write: 0, writev: 0 });
    await null;
    expect(calls).toEqual({ write: 0, writev: 1 });
    await eventually(() => expect(received).toEqual(['{"n":1}', '{"n":2}', '{"n":2.5}']));

    holdWrites(server);
    buffer.send('{"n":3}');
    expect(calls.write + calls.writev).toBe(1);
    await new Promise((r) => setImmediate(r));
    expect(tcp.writableCorked).toBe(0);
    await eventually(() => expect(received).toEqual(['{"n":1}', '{"n":2}', '{"n":2.5}', '{"n":3}']));
  });
});
