/**
 * The admin event feed over a partitioned log (3 partitions on one real nats-server, the
 * feed served by Fastify on a real socket): every event once, each conversation in
 * order, NDJSON lines and SSE ids carrying the cursor token, and a resume from any
 * line's token giving exactly the rest, then live events without a gap.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamFeed, type FeedQuery } from '../../engine/node/event-feed.js';
import { PartitionedJetStreamStore } from '../../engine/store/jetstream/index.js';
import type { NewEvent, StoredEvent } from '../../engine/store/port.js';
import { eventually } from '../helpers/eventually.js';
import { startNatsServer, type NatsSingle } from '../helpers/nats-server.js';
import { streamsInEveryPartition } from '../helpers/partitioned-streams.js';

let server: NatsSingle;
let store: PartitionedJetStreamStore;
let app: FastifyInstance;
let base: string;
const streams = streamsInEveryPartition(3, 2);

const ev = (type: string): NewEvent => ({
  id: randomUUID(),
  type,
  data: {},
  metadata: { actor: 'a', commandId: randomUUID(), correlationId: 'c', at: Date.now(), schemaVersion: 1 },
});

type Line = StoredEvent & { cursor: string };

beforeAll(async () => {
  server = await startNatsServer();
  const id = randomUUID().replace(/-/g, '').slice(0, 12);
  store = await PartitionedJetStreamStore.connect({ servers: server.url, partitions: 3, streamName: `PARLEY_F_${id}`, subjectPrefix: `parley.f${id}` });
  for (let round = 0; round < 3; round++) for (const s of streams) await store.append(s, [ev(`R${round}`)], { expectedVersion: round });
  app = Fastify();
  app.get<{ Querystring: FeedQuery }>('/feed', (request, reply) => streamFeed(store, request, reply));
  base = await app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await app?.close();
  await store?.close();
  await server?.stop();
});

async function ndjson(query: string): Promise<Line[]> {
  const res = await fetch(`${base}/feed?${query}`);
  expect(res.status).toBe(200);
  return (await res.text())
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Line);
}

describe('the admin feed over a partitioned log', () => {
  it('gives every event once with its cursor, each conversation in order, and resumes from any token', async () => {
    expect(new Set(streams.map((s) => store.partitionOf(s))).size).toBeGreaterThan(1);
    const all = await ndjson('from=0');
    expect(all).toHaveLength(18);
    for (const s of streams) expect(all.filter((e) => e.stream === s).map((e) => e.seq)).toEqual([1, 2, 3]);
    for (const line of all) expect(line.cursor).toMatch(/^c1\.[A-Za-z0-9_-]+$/);
    for (const k of [0, 4, 11, 17]) {
      const rest = await ndjson(`from=${all[k]!.cursor}`);
      expect(rest.map((e) => e.id)).toEqual(all.slice(k + 1).map((e) => e.id));
    }
  });

  it('names the cursor in SSE ids and resumes an EventSource from Last-Event-ID', async () => {
    const res = await fetch(`${base}/feed?from=0&limit=5`, { headers: { accept: 'text/event-stream' } });
    const ids = [...(await res.text()).matchAll(/^id: (.+)$/gm)].map((m) => m[1]!);
    expect(ids).toHaveLength(5);
    const all = await ndjson('from=0');
    expect(ids).toEqual(all.slice(0, 5).map((e) => e.cursor));
    const resumed = await fetch(`${base}/feed`, { headers: { 'last-event-id': ids[4]! } });
    const rest = (await resumed.text()).split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as Line).id);
    expect(rest).toEqual(all.slice(5).map((e) => e.id));
  });

  it('refuses a plain position or a foreign token for a partitioned log', async () => {
    for (const from of ['5120', 'c1.' + Buffer.from('[0,1]').toString('base64url'), 'c1.' + Buffer.from('[1,1,2]').toString('base64url')]) {
      const res = await fetch(`${base}/feed?from=${from}`);
      expect(res.status, from).toBe(400);
    }
  });

  it('follows live after the log, across partitions, without a gap or a repeat', async () => {
    const all = await ndjson('from=0');
    const controller = new AbortController();
    const res = await fetch(`${base}/feed?from=${all[all.length - 1]!.cursor}&follow=true`, { signal: controller.signal });
    const got: Line[] = [];
    const reading = (async () => {
      const decoder = new TextDecoder();
      let buffer = '';
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          const lines = buffer.split('\n');
          buffer = lines.pop()!;
          for (const l of lines) if (l.trim() !== '') got.push(JSON.parse(l) as Line);
        }
      } catch {
        // aborted
      }
    })();
    for (const s of streams) await store.append(s, [ev('Live')], { expectedVersion: 3 });
    await eventually(() => expect(got).toHaveLength(6));
    controller.abort();
    await reading;
    expect(got.map((e) => e.stream).sort()).toEqual([...streams].sort());
    for (const e of got) expect(e.seq).toBe(4);
  });
});
