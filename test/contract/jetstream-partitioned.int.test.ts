/**
 * The partitioned log (PARLEY_PARTITIONS=3) on a 3-server JetStream cluster with R3
 * streams: the EventStore contract unchanged, the partitions' stream leaders spread over
 * the servers, conversations in the stream their id hashes to, the partition count
 * guarded against an accidental change, and a SIGKILL of one partition's stream leader
 * under appends to every partition: no acknowledged append lost or doubled, seqs dense,
 * the merged live feed delivering each stream in order.
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
import { isConcurrencyError } from '../../engine/store/errors.js';
import { LogCursor } from '../../engine/store/log-cursor.js';
import { fnv1a32 } from '../../engine/store/partitions.js';
import type { NewEvent, StoredEvent } from '../../engine/store/port.js';
import { eventually } from '../helpers/eventually.js';
import { startNatsCluster, type NatsCluster } from '../helpers/nats-server.js';
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
function conversationIn(p: number): string {
  for (;;) {
    const id = randomUUID();
    if (fnv1a32(id) % N === p) return `conversation-${id}`;
  }
}

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

  it("loses no acknowledged append when one partition's stream leader is SIGKILLed under appends to every partition", async () => {
    const options = freshOptions();
    const store = await PartitionedJetStreamStore.connect(options);
    const jsm = await jetstreamManager(store.nc);
    try {
      const target = 1;
      const leaderName = (await jsm.streams.info(store.streamNames[target]!)).cluster?.leader;
      const victim = cluster.members.find((m) => m.name === leaderName)!;
      expect(victim, `leader of partition ${target}`).toBeDefined();
      const fed: StoredEvent[] = [];
      const unsubscribe = store.subscribe((events) => fed.push(...events));
      const acked = new Map<string, { stream: string; seq: number }>();
      let stop = false;
      let failures = 0;

      // Two writers per partition, each on its own conversation, appending at the version
      // they know and re-reading it after a failure (whose outcome they cannot know).
      const writer = async (stream: string): Promise<void> => {
        let version = 0;
        while (!stop) {
          const e = ev('Tick');
          try {
            const r = await store.append(stream, [e], { expectedVersion: version });
            acked.set(e.id, { stream, seq: r.events[0]!.seq });
            version = r.version;
          } catch (err) {
            failures++;
            if (!isConcurrencyError(err) && !stop) await new Promise((r) => setTimeout(r, 50));
            version = await store.streamVersion(stream).catch(() => version);
          }
        }
      };
      const streams = [0, 0, 1, 1, 2, 2].map(conversationIn);
      const writers = streams.map(writer);
      const ackedIn = (p: number) => [...acked.values()].filter((a) => store.partitionOf(a.stream) === p).length;

      await eventually(() => expect(ackedIn(target)).toBeGreaterThan(20), 15_000);
      await victim.kill('SIGKILL');
      const atKill = ackedIn(target);
      await eventually(() => expect(ackedIn(target)).toBeGreaterThan(atKill + 20), 45_000, 50);
      // Those appends went through a newly elected leader of that partition.
      expect((await jsm.streams.info(store.streamNames[target]!)).cluster?.leader).not.toBe(victim.name);
      await victim.restart();
      const afterRestart = acked.size;
      await eventually(() => expect(acked.size).toBeGreaterThan(afterRestart + 20), 15_000, 50);
      stop = true;
      await Promise.all(writers);

      const all: StoredEvent[] = [];
      let cursor = LogCursor.start(N);
      for (;;) {
        const page = await store.readAllAfter(cursor, 500);
        if (page.length === 0) break;
        all.push(...page);
        cursor = cursor.advancedBy(page);
      }
      const counts = new Map<string, number>();
      for (const e of all) counts.set(e.id, (counts.get(e.id) ?? 0) + 1);
      for (const [id, at] of acked) expect(counts.get(id), `acked event ${id} at ${at.stream}#${at.seq}`).toBe(1);
      expect([...counts.values()].every((n) => n === 1)).toBe(true);
      for (const stream of streams) {
        const events = await store.readStream(stream, { limit: 100_000 });
        expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
        for (const e of events) {
          const at = acked.get(e.id);
          if (at) expect(at).toEqual({ stream, seq: e.seq });
        }
      }
      // The merged feed: everything once, each stream in seq order.
      await eventually(() => expect(fed.length).toBe(all.length), 15_000, 50);
      unsubscribe();
      expect(new Set(fed.map((e) => e.id))).toEqual(new Set(all.map((e) => e.id)));
      for (const stream of streams) {
        const seqs = fed.filter((e) => e.stream === stream).map((e) => e.seq);
        expect(seqs).toEqual(seqs.map((_, i) => i + 1));
      }
      console.info(`partition failover: ${acked.size} acked appends over ${N} partitions, ${failures} failed attempts, ${all.length} events`);
    } finally {
      await store.close();
    }
  }, 240_000);
});
