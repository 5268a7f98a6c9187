/**
 * The EventStore contract against a 3-server JetStream cluster with R3 streams, and one
 * race R3 must not lose: appends decided on one version from different connections must
 * leave exactly one winner (nats-server#4320). Killing the stream leader is in
 * jetstream-cluster-failover.int.test.ts, on a cluster of its own.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JetStreamEventStore, type JetStreamStoreOptions } from '../../engine/store/jetstream/index.js';
import { isConcurrencyError } from '../../engine/store/errors.js';
import type { NewEvent } from '../../engine/store/port.js';
import { startNatsCluster, type NatsCluster } from '../helpers/nats-server.js';
import { closingEachStore, describeEventStoreContract } from './event-store.contract.js';

let cluster: NatsCluster;
beforeAll(async () => {
  cluster = await startNatsCluster(3);
});
afterAll(async () => {
  await cluster?.stop();
});

function freshOptions(): JetStreamStoreOptions {
  const id = randomUUID().replace(/-/g, '').slice(0, 12);
  return { servers: cluster.urls, replicas: 3, streamName: `PARLEY_C_${id}`, subjectPrefix: `parley.c${id}` };
}

function ev(type: string): NewEvent {
  return { id: randomUUID(), type, data: {}, metadata: { actor: 'a', commandId: randomUUID(), correlationId: 'c', at: Date.now(), schemaVersion: 1 } };
}

describeEventStoreContract('jetstream R3 cluster', async () => {
  const options = freshOptions();
  return closingEachStore(() => JetStreamEventStore.connect(options));
});

describe('JetStream event store in a cluster', () => {
  it('lets exactly one of concurrent appends at the same version from different connections win, round after round', async () => {
    // The race nats-server#4320 lost on 2.9.10 with R3 (both stored in 121 of 300 trials):
    // appends decided on one version from separate connections (separate nodes), each
    // connection preferring a different server, so the publishes reach the stream leader
    // through different routes.
    const options = freshOptions();
    const stores: JetStreamEventStore[] = [];
    for (let i = 0; i < 6; i++) {
      const urls = cluster.urls.map((_, j) => cluster.urls[(i + j) % cluster.urls.length]!);
      stores.push(await JetStreamEventStore.connect({ ...options, servers: urls }));
    }
    try {
      const stream = `conversation-${randomUUID()}`;
      const ROUNDS = 40;
      const winners: string[] = [];
      for (let version = 0; version < ROUNDS; version++) {
        const results = await Promise.allSettled(stores.map((s, i) => s.append(stream, [ev(`R${version}S${i}`)], { expectedVersion: version })));
        const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
        const lost = results.filter((r) => r.status === 'rejected');
        expect(won.length, `round ${version}`).toBe(1);
        expect(lost.every((r) => isConcurrencyError((r as PromiseRejectedResult).reason)), `round ${version}`).toBe(true);
        expect(won[0]!.events[0]!.seq).toBe(version + 1);
        winners.push(won[0]!.events[0]!.id);
      }
      for (const store of stores.slice(0, 2)) {
        const events = await store.readStream(stream, { limit: 1000 });
        expect(events.map((e) => e.seq)).toEqual(Array.from({ length: ROUNDS }, (_, i) => i + 1));
        expect(events.map((e) => e.id)).toEqual(winners);
      }
      expect(await stores[0]!.findDuplicateSeqs()).toEqual([]);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  }, 60_000);
});
