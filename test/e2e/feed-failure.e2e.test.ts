/**
 * The admin feed failing after its 200 is out: the node's event store is closed while the
 * feed is part-way through a large log (held back by the consumer not reading), so its
 * next read of the log really fails. The body must end with the coded error, in either
 * framing, rather than end as if the log were over.
 */
import { randomUUID } from 'node:crypto';
import { get, type IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { conversationStream } from '../../engine/store/index.js';
import { posted } from '../helpers/events.js';
import { startTestNode, tokenFor, type TestNode } from '../helpers/node.js';

const PAGES = 5;
const PER_PAGE = 1000; // the feed's page size
const TEXT = 'x'.repeat(4000); // 20 MB in all: far more than the socket buffers hold while the consumer waits

let node: TestNode | undefined;
afterEach(async () => {
  await node?.destroy();
  node = undefined;
});

/** A node whose log holds PAGES × PER_PAGE big events. */
async function nodeWithBigLog(): Promise<TestNode> {
  const n = await startTestNode();
  const stream = conversationStream(randomUUID());
  for (let p = 0; p < PAGES; p++) {
    await n.store.append(stream, Array.from({ length: PER_PAGE }, () => posted(TEXT)), { expectedVersion: p * PER_PAGE });
  }
  return n;
}

/** Opens the feed and resolves once its first bytes are in, leaving the rest unread (so the node waits for the socket). */
function openFeed(url: string, accept?: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { authorization: `Bearer ${tokenFor('ops', { role: 'admin' })}` };
    if (accept) headers.accept = accept;
    get(`${url}/v1/admin/feed`, { headers }, (res) => {
      res.once('readable', () => resolve(res));
      res.once('error', reject);
    }).once('error', reject);
  });
}

async function bodyOf(res: IncomingMessage): Promise<string> {
  let text = '';
  res.setEncoding('utf8');
  for await (const chunk of res) text += chunk;
  return text;
}

describe('admin feed failing after it started', () => {
  it('ends an NDJSON feed with a last {"error":{"code"}} line', async () => {
    node = await nodeWithBigLog();
    const res = await openFeed(node.url);
    expect(res.statusCode).toBe(200);
    await node.store.close(); // the feed's next read of the log fails
    const lines = (await bodyOf(res)).split('\n').filter((l) => l !== '');
    const last = JSON.parse(lines.pop()!);
    expect(last).toEqual({ error: { code: 'internal', message: expect.any(String) } });
    // What came before were events, in order, and not the whole log: it did stop early.
    const positions = lines.map((l) => (JSON.parse(l) as { position: number }).position);
    expect(positions.length).toBeGreaterThan(0);
    expect(positions.length).toBeLessThan(PAGES * PER_PAGE);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
  }, 120_000);

  it('ends an SSE feed with an `event: error` carrying the code', async () => {
    node = await nodeWithBigLog();
    const res = await openFeed(node.url, 'text/event-stream');
    expect(res.statusCode).toBe(200);
    await node.store.close();
    const blocks = (await bodyOf(res)).split('\n\n').filter((b) => b !== '' && !b.startsWith(':'));
    const last = blocks.pop()!;
    expect(last.split('\n')[0]).toBe('event: error');
    expect(JSON.parse(last.split('\n')[1]!.replace(/^data: /, ''))).toEqual({ code: 'internal', message: expect.any(String) });
    expect(blocks.length).toBeGreaterThan(0);
    expect(blocks.length).toBeLessThan(PAGES * PER_PAGE);
    for (const b of blocks) expect(b).toMatch(/^id: \d+\nevent: \w+\ndata: \{/);
  }, 120_000);
});
