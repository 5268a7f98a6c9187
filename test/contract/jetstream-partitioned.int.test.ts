/**
 * The partitioned log (PARLEY_PARTITIONS=3) on a 3-server JetStream cluster with R3
 * streams: the EventStore contract unchanged, the partitions' stream leaders spread over
 * the servers, conversations in the stream their id hashes to, and the partition count
 * guarded against an accidental change. A SIGKILL of one partition's stream leader is in
 * jetstream-partitioned-failover.int.test.ts, on a cluster of its own.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import {
  JetStreamEventStore,
  PartitionCountMismatchError,
  PartitionedJetStreamStore,
  type PartitionedStoreOptions,
} from '../../engine/store/jetstream/index.js';
import type { NewEvent } from '../../engine/store/port.js';
import { startNatsCluster, type NatsCluster } from '../helpers/nats-server.js';
import { conversationIn as conversationInPartition } from '../helpers/partitioned-streams.js';
import { describeEventStoreContract } from './event-store.contract.js';

const N = 3;
let cluster: NatsCluster;
beforeAll(async () => {
  cluster = await startNatsCluster(3);
});
afterAll(async () => {
  await cluster?.stop();
});

function freshOptions(): PartitionedStoreOptions {
  const id = randomUUID().replace(/-/g, '').slice(0, 12);
  return { servers: cluster.urls, replicas: 3, partitions: N, streamName: `PARLEY_P_${id}`, subjectPrefix: `parley.p${id}` };
}

function ev(type: string): NewEvent {
  return { id: randomUUID(), type, data: {}, metadata: { actor: 'a', commandId: randomUUID(), correlationId: 'c', at: Date.now(), schemaVersion: 1 } };
}

/** A conversation stream whose id hashes to partition `p`. */
const conversationIn = (p: number): string => conversationInPartition(p, N);

describeEventStoreContract(`jetstream, ${N} partitions, R3 cluster`, async () => {
  const options = freshOptions();
  const opened: PartitionedJetStreamStore[] = [];
  return {
    open: async () => {
      const store = await PartitionedJetStreamStore.connect(options);
      opened.push(store);
      return store;
    },
    cleanup: async () => {
      await Promise.all(opened.map((s) => s.close()));
    },
  };
});

describe(`a log of ${N} partitions on a JetStream cluster`, () => {
  it('spreads the stream leaders over the servers and keeps each conversation in the stream its id hashes to', async () => {
    const options = freshOptions();
    const store = await PartitionedJetStreamStore.connect(options);
    const jsm = await jetstreamManager(store.nc);
    try {
      expect(store.streamNames).toEqual([options.streamName, `${options.streamName}_P1`, `${options.streamName}_P2`]);
      const infos = await Promise.all(store.streamNames.map((s) => jsm.streams.info(s)));
      const leaders = infos.map((i) => i.cluster?.leader);
      console.info(`partition leaders: ${leaders.join(', ')}`);
      expect(new Set(leaders).size).toBe(N);
      expect(infos[0]!.config.description).toBe(`parley partitions=${N}`);

      const streams = [conversationIn(0), conversationIn(1), conversationIn(1), conversationIn(2), `user-${randomUUID()}`];
      for (const s of streams) await store.append(s, [ev('A'), ev('B')], { expectedVersion: 0 });
      const counts = (await Promise.all(store.streamNames.map((s) => jsm.streams.info(s)))).map((i) => i.state.messages);
      expect(counts).toEqual([2, 2, 1]); // partition 0 has its conversation and the user stream
      for (const s of streams) {
        const events = await store.readStream(s);
        expect(events.map((e) => e.seq)).toEqual([1, 2]);
        for (const e of events) expect(e.position % N).toBe(store.partitionOf(s));
      }
    } finally {
      await store.close();
    }
  }, 60_000);

  it('refuses to open a log with another partition count, in either direction', async () => {
    const options = freshOptions();
    const store = await PartitionedJetStreamStore.connect(options);
    await store.append(conversationIn(1), [ev('A')], { expectedVersion: 0 });
    await store.close();
    await expect(PartitionedJetStreamStore.connect({ ...options, partitions: 2, startupBudgetMs: 1000, retryBudgetMs: 1000 })).rejects.toBeInstanceOf(
      PartitionCountMismatchError,
    );
    await expect(PartitionedJetStreamStore.connect({ ...options, partitions: 1, startupBudgetMs: 1000, retryBudgetMs: 1000 })).rejects.toMatchObject({
      code: 'partition_count_mismatch',
    });
    // An unpartitioned log with events cannot be opened as a partitioned one either.
    const plain = { ...freshOptions(), partitions: 1 };
    const one = await JetStreamEventStore.connect(plain);
    await one.append(conversationIn(2), [ev('A')], { expectedVersion: 0 });
    await one.close();
    await expect(PartitionedJetStreamStore.connect({ ...plain, partitions: N, startupBudgetMs: 1000, retryBudgetMs: 1000 })).rejects.toBeInstanceOf(
      PartitionCountMismatchError,
    );
    // The same count opens.
    const again = await PartitionedJetStreamStore.connect(options);
    expect(again.partitions).toBe(N);
    await again.close();
  }, 60_000);
});
