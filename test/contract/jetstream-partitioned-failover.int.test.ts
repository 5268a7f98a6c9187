/**
 * A SIGKILL of one partition's stream leader (PARLEY_PARTITIONS=3, R3) under appends to
 * every partition: no acknowledged append lost or doubled, seqs dense, the merged live
 * feed delivering each stream in order, and the killed server back after a restart.
 *
 * The test has a cluster of its own: a restarted member is healthy only once every stream
 * on it has caught up, and the contract suite leaves dozens of idle streams behind.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { PartitionedJetStreamStore } from '../../engine/store/jetstream/index.js';
import { isConcurrencyError } from '../../engine/store/errors.js';
import { LogCursor } from '../../engine/store/log-cursor.js';
import type { NewEvent, StoredEvent } from '../../engine/store/port.js';
import { expectEveryAckOnceInTheLog, type AckedAppends } from '../helpers/acked-appends.js';
import { eventually } from '../helpers/eventually.js';
import { startNatsCluster, type NatsCluster } from '../helpers/nats-server.js';
import { conversationIn as conversationInPartition } from '../helpers/partitioned-streams.js';

const N = 3;
let cluster: NatsCluster;
beforeAll(async () => {
  cluster = await startNatsCluster(3);
});
afterAll(async () => {
  await cluster?.stop();
});

function ev(type: string): NewEvent {
  return { id: randomUUID(), type, data: {}, metadata: { actor: 'a', commandId: randomUUID(), correlationId: 'c', at: Date.now(), schemaVersion: 1 } };
}

/** A conversation stream whose id hashes to partition `p`. */
const conversationIn = (p: number): string => conversationInPartition(p, N);

describe(`a log of ${N} partitions on a JetStream cluster`, () => {
  it("loses no acknowledged append when one partition's stream leader is SIGKILLed under appends to every partition", async () => {
    const options = { servers: cluster.urls, replicas: 3, partitions: N, streamName: 'PARLEY_P_FAILOVER', subjectPrefix: 'parley.pfailover' };
    const store = await PartitionedJetStreamStore.connect(options);
    const jsm = await jetstreamManager(store.nc);
    try {
      const target = 1;
      const leaderName = (await jsm.streams.info(store.streamNames[target]!)).cluster?.leader;
      const victim = cluster.members.find((m) => m.name === leaderName)!;
      expect(victim, `leader of partition ${target}`).toBeDefined();
      const fed: StoredEvent[] = [];
      const unsubscribe = store.subscribe((events) => fed.push(...events));
      const acked: AckedAppends = new Map();
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
      await expectEveryAckOnceInTheLog(store, all, acked, streams);
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
