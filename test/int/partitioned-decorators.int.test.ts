/**
 * Decorators over a partitioned log (3 partitions on one real nats-server): the upcasting
 * view and the read timings apply to reads by cursor as to `readAll`, and a decorator
 * that changes `readAll` alone is refused instead of being bypassed by cursor reads.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withUpcasting } from '../../engine/domain/index.js';
import { decorate, LogCursor, readAllAfter } from '../../engine/store/index.js';
import { PartitionedJetStreamStore } from '../../engine/store/jetstream/index.js';
import { withReadTimings } from '../../engine/store/timed-reads.js';
import { startNatsServer, type NatsSingle } from '../helpers/nats-server.js';
import { streamsInEveryPartition } from '../helpers/partitioned-streams.js';

let server: NatsSingle;
let store: PartitionedJetStreamStore;
beforeAll(async () => {
  server = await startNatsServer();
  const id = randomUUID().replace(/-/g, '').slice(0, 12);
  store = await PartitionedJetStreamStore.connect({ servers: server.url, partitions: 3, streamName: `PARLEY_D_${id}`, subjectPrefix: `parley.d${id}` });
});
afterAll(async () => {
  await store?.close();
  await server?.stop();
});

describe('decorators over a partitioned log', () => {
  it('upcasts and times reads by cursor', async () => {
    const streams = streamsInEveryPartition(3, 2);
    for (const s of streams) {
      await store.append(s, [{ id: randomUUID(), type: 'MessagePosted', data: { text: 'old' }, metadata: { actor: 'a', commandId: randomUUID(), correlationId: 'c', at: Date.now(), schemaVersion: 1 } }], {
        expectedVersion: 0,
      });
    }
    expect(new Set(streams.map((s) => store.partitionOf(s))).size).toBeGreaterThan(1);
    const reads: string[] = [];
    const view = withReadTimings(withUpcasting(store), (read) => reads.push(read));
    const events = (await readAllAfter(view, LogCursor.start(3), 100)).filter((e) => streams.includes(e.stream));
    expect(events).toHaveLength(6);
    for (const e of events) expect(e.data).toEqual({ text: 'old', format: 'plain' });
    expect(reads).toEqual(['all']);
  });

  it('refuses a decorator that changes readAll but not readAllAfter', () => {
    expect(() => decorate(store, { readAll: (after, limit) => store.readAll(after, limit) })).toThrow(/readAllAfter/);
  });
});
