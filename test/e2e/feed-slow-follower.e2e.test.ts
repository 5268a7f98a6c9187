/**
 * A follower of the admin feed that stops reading while the log grows by more than the
 * feed buffers for it (10 000 live events): the node drops that buffer and serves the
 * follower from the log again. What the follower then reads is still every event, once,
 * in order — no gap where the dropped buffer was.
 */
import { randomUUID } from 'node:crypto';
import { get, type IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { conversationStream } from '../../engine/store/index.js';
import { posted } from '../helpers/events.js';
import { startTestNode, tokenFor, type TestNode } from '../helpers/node.js';

const APPENDS = 25;
const PER_APPEND = 1000; // 25 000 live events: well past the buffer even after the socket buffers take their share
const TEXT = 'y'.repeat(1000);

let node: TestNode | undefined;
afterEach(async () => {
  await node?.destroy();
  node = undefined;
});

/** Opens a following feed and resolves once its first event is in, the rest left unread. */
function follow(url: string, limit: number): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const headers = { authorization: `Bearer ${tokenFor('ops', { role: 'admin' })}` };
    get(`${url}/v1/admin/feed?follow=true&limit=${limit}`, { headers }, (res) => {
      res.once('readable', () => resolve(res));
      res.once('error', reject);
    }).once('error', reject);
  });
}

describe('admin feed with a follower slower than the log', () => {
  it('serves every event once and in order after the live buffer overflowed', async () => {
    node = await startTestNode();
    const before = (await node.store.readAll(0, 100)).length; // NodeStarted
    const total = before + APPENDS * PER_APPEND;
    const res = await follow(node.url, total);
    expect(res.statusCode).toBe(200);

    const stream = conversationStream(randomUUID());
    for (let i = 0; i < APPENDS; i++) await node.store.append(stream, Array.from({ length: PER_APPEND }, () => posted(TEXT)), { expectedVersion: i * PER_APPEND });
    const expected = (await node.store.readAll(0, total + 10)).map((e) => e.position);
    expect(expected).toHaveLength(total);

    // Now read: the feed ends by itself after `limit` events.
    let text = '';
    res.setEncoding('utf8');
    for await (const chunk of res) text += chunk;
    const lines = text.split('\n').filter((l) => l !== '');
    const positions = lines.map((l) => (JSON.parse(l) as { position: number }).position);
    expect(positions).toEqual(expected);
  }, 180_000);
});
