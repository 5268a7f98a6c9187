/**
 * Defence in depth against a second envelope claiming a seq already taken (a nats-server
 * bug like nats-server#4320, or a foreign writer): forged envelopes are published straight
 * into the stream, bypassing the store. Every reader — two store instances (two "nodes"),
 * their live feeds, history and the decider of two real nodes — must skip the same ones
 * (the first in stream order stands), report them (onError, `parley_duplicate_seq_total`,
 * the full scan `parley verify` uses), and the stream must keep taking appends at the
 * standing version, whether the duplicate at the tail is shorter, as long or longer than
 * the envelope it collides with.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream } from '@nats-io/jetstream';
import { JetStreamEventStore, DuplicateSeqError, type JetStreamStoreOptions } from '../../engine/store/jetstream/index.js';
import type { NewEvent, StoredEvent } from '../../engine/store/port.js';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { startNatsServer, type NatsSingle } from '../helpers/nats-server.js';
import { startTestNode, TEST_METRICS_TOKEN, tokenFor, type TestNode } from '../helpers/node.js';
import { PARLEY_BIN } from '../helpers/cli.js';

let nats: NatsSingle;
beforeAll(async () => {
  nats = await startNatsServer();
});
afterAll(async () => {
  await nats?.stop();
});

function ev(type: string, data: Record<string, unknown> = {}): NewEvent {
  return { id: randomUUID(), type, data, metadata: { actor: 'a', commandId: randomUUID(), correlationId: 'c', at: Date.now(), schemaVersion: 1 } };
}

/** Publishes an envelope as the store would, but without any expectation: a forged duplicate. */
async function forge(store: JetStreamEventStore, subject: string, stream: string, firstSeq: number, events: NewEvent[]): Promise<number> {
  const ack = await jetstream(store.nc).publish(subject, JSON.stringify({ v: 1, stream, firstSeq, events }));
  return ack.seq;
}

describe('a duplicate seq in the JetStream log', () => {
  it('is skipped identically by every reader, reported, and never blocks the stream', async () => {
    const id = randomUUID().replace(/-/g, '').slice(0, 12);
    const errors: unknown[] = [];
    const options: JetStreamStoreOptions = { servers: nats.url, streamName: `PARLEY_D_${id}`, subjectPrefix: `parley.d${id}`, onError: (e) => errors.push(e) };
    const a = await JetStreamEventStore.connect(options);
    const b = await JetStreamEventStore.connect(options);
    const fedA: StoredEvent[] = [];
    const fedB: StoredEvent[] = [];
    a.subscribe((events) => fedA.push(...events));
    b.subscribe((events) => fedB.push(...events));
    try {
      const stream = 'conversation-dup';
      const subject = `parley.d${id}.${stream}`;
      const standing: NewEvent[] = [];
      const append = async (store: JetStreamEventStore, expected: number, events: NewEvent[]) => {
        const r = await store.append(stream, events, { expectedVersion: expected });
        expect(r.events.map((e) => e.seq)).toEqual(events.map((_, i) => expected + 1 + i));
        standing.push(...events);
      };
      const forged: number[] = [];

      await append(a, 0, [ev('One')]);
      await append(a, 1, [ev('Two')]);
      // As long as the envelope it collides with (seq 2), at the tail.
      forged.push(await forge(a, subject, stream, 2, [ev('Forged')]));
      await append(b, 2, [ev('Three')]);
      // Longer (claims 3..4): the tail's own version (4) is not the stream's (3).
      forged.push(await forge(a, subject, stream, 3, [ev('Forged'), ev('Forged')]));
      await append(b, 3, [ev('Four')]);
      await append(a, 4, [ev('Five'), ev('Six')]);
      // Shorter (claims 5 only): the tail's own version (5) is behind the stream's (6).
      forged.push(await forge(b, subject, stream, 5, [ev('Forged')]));
      await append(a, 6, [ev('Seven')]);

      const ids = standing.map((e) => e.id);
      for (const store of [a, b]) {
        const events = await store.readStream(stream, { limit: 1000 });
        expect(events.map((e) => e.seq)).toEqual(ids.map((_, i) => i + 1));
        expect(events.map((e) => e.id)).toEqual(ids);
        expect((await store.readAll(0, 1000)).map((e) => e.id)).toEqual(ids);
        expect(await store.streamVersion(stream)).toBe(ids.length);
      }
      await eventually(() => {
        expect(fedA.map((e) => e.id)).toEqual(ids);
        expect(fedB.map((e) => e.id)).toEqual(ids);
      });
      expect(a.duplicateSeqsSeen).toBeGreaterThan(0);
      expect(b.duplicateSeqsSeen).toBeGreaterThan(0);
      expect(errors.some((e) => e instanceof DuplicateSeqError)).toBe(true);
      const found = await a.findDuplicateSeqs();
      expect(found.map((d) => d.jetstreamSeq)).toEqual(forged);
      expect(found.map((d) => d.firstSeq)).toEqual([2, 3, 5]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('two nodes agree on history and the conversation still takes posts after a forged duplicate post', async () => {
    const streamName = `PARLEY_N_${randomUUID().slice(0, 8)}`;
    const nodes: TestNode[] = [];
    try {
      nodes.push(await startTestNode({ natsUrls: [nats.url], streamName }));
      nodes.push(await startTestNode({ natsUrls: [nats.url], streamName }));
      const [n1, n2] = nodes as [TestNode, TestNode];
      const conversation: string = (await api(n1.url, tokenFor('alice')).post('/v1/conversations', { title: 'd', members: ['bob'] })).body.id;
      const first = await api(n1.url, tokenFor('alice')).post(`/v1/conversations/${conversation}/messages`, { clientMessageId: 'm1', text: 'real' });
      expect(first.status).toBe(201);

      // A second MessagePosted at the same seq, straight into the stream.
      const stream = `conversation-${conversation}`;
      const jsStore = n1.store as unknown as { readStream: JetStreamEventStore['readStream'] };
      const last = (await jsStore.readStream(stream, { limit: 1000 })).at(-1)!;
      const client = await JetStreamEventStore.connect({ servers: nats.url, streamName, subjectPrefix: `parley.log.${streamName}` });
      try {
        await forge(client, `parley.log.${streamName}.${stream}`, stream, last.seq, [
          { id: randomUUID(), type: last.type, data: { ...(last.data as object), messageId: randomUUID(), text: 'forged' }, metadata: last.metadata },
        ]);
      } finally {
        await client.close();
      }

      // Both nodes keep taking posts on the conversation (their deciders skip the forged one).
      for (const [i, node] of nodes.entries()) {
        const r = await api(node.url, tokenFor('bob')).post(`/v1/conversations/${conversation}/messages`, { clientMessageId: `after-${i}`, text: `after-${i}` });
        expect(r.status, JSON.stringify(r.body)).toBe(201);
      }
      const history = async (node: TestNode) =>
        ((await api(node.url, tokenFor('alice')).get(`/v1/conversations/${conversation}/messages`)).body.messages as Array<{ seq: number; text: string }>).map((m) => `${m.seq}:${m.text}`);
      await eventually(async () => {
        const h1 = await history(n1);
        expect(h1).toEqual([`${last.seq}:real`, `${last.seq + 1}:after-0`, `${last.seq + 2}:after-1`]);
        expect(await history(n2)).toEqual(h1);
      });
      // `parley verify` on the cluster's log names the skipped message and fails.
      const verify = await new Promise<{ code: number | null; out: string }>((resolve) => {
        execFile(
          process.execPath,
          [PARLEY_BIN, 'verify', '--data-dir', n1.dataDir, '--nats', nats.url],
          { env: { ...process.env, PARLEY_STREAM: streamName } },
          (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
        );
      });
      expect(verify.out).toMatch(new RegExp(`problem: stream ${stream}: JetStream message \\d+ claims seq ${last.seq}, already taken`));
      expect(verify.out).toContain('verify FAILED: 1 duplicate seq');
      expect(verify.code).toBe(1);
      for (const node of nodes) {
        const metrics: string = (await api(node.url, TEST_METRICS_TOKEN).get('/metrics')).body;
        expect(metrics.split('\n').filter((l) => l.startsWith('parley_duplicate_seq_total'))).toEqual([expect.stringMatching(/^parley_duplicate_seq_total(\{[^}]*\})? [1-9]/)]);
      }
    } finally {
      await Promise.all(nodes.map((n) => n.destroy()));
    }
  }, 60_000);
});
