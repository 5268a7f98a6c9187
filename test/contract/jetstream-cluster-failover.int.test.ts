/**
 * What R3 is for: SIGKILL the stream's leader while appends continue; every append that
 * was acknowledged must be in the log exactly once, seqs must stay dense, and the killed
 * server must rejoin as a current replica after a restart. The store's live feed must
 * deliver the same log, in order, without gaps or repeats.
 *
 * The test has a cluster of its own: a restarted member is healthy only once every stream
 * on it has caught up, and on the shared cluster of the contract suite that meant dozens
 * of idle streams; CI saw five of them still catching up after 60 s.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { JetStreamEventStore } from '../../engine/store/jetstream/index.js';
import { isConcurrencyError } from '../../engine/store/errors.js';
import type { NewEvent, StoredEvent } from '../../engine/store/port.js';
import { expectEveryAckOnceInTheLog, type AckedAppends } from '../helpers/acked-appends.js';
import { eventually } from '../helpers/eventually.js';
import { startNatsCluster, type NatsCluster } from '../helpers/nats-server.js';

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

describe('JetStream event store in a cluster', () => {
  it('loses no acknowledged append when the stream leader is SIGKILLed, and the member rejoins', async () => {
    const options = { servers: cluster.urls, replicas: 3, streamName: 'PARLEY_FAILOVER', subjectPrefix: 'parley.failover' };
    const store = await JetStreamEventStore.connect(options);
    const jsm = await jetstreamManager(store.nc);
    try {
      const leaderName = (await jsm.streams.info(options.streamName!)).cluster?.leader;
      const victim = cluster.members.find((m) => m.name === leaderName) ?? cluster.members[0]!;
      // The store's one feed consumer must ride through the failover too.
      const fed: StoredEvent[] = [];
      const unsubscribe = store.subscribe((events) => fed.push(...events));
      const acked: AckedAppends = new Map();
      let stop = false;
      let failures = 0;
      let slowest = 0;

      // Four writers, each on its own store stream, appending one event at a time at the
      // version they know; after a failure they re-read the version (the outcome of a
      // failed append is unknown to them, exactly as for a real node).
      const writer = async (stream: string): Promise<void> => {
        let version = 0;
        while (!stop) {
          const e = ev('Tick');
          const started = Date.now();
          try {
            const r = await store.append(stream, [e], { expectedVersion: version });
            slowest = Math.max(slowest, Date.now() - started);
            acked.set(e.id, { stream, seq: r.events[0]!.seq });
            version = r.version;
          } catch (err) {
            failures++;
            if (!isConcurrencyError(err) && !stop) await new Promise((r) => setTimeout(r, 50));
            version = await store.streamVersion(stream).catch(() => version);
          }
        }
      };
      const streams = Array.from({ length: 4 }, () => `conversation-${randomUUID()}`);
      const writers = streams.map(writer);

      await eventually(() => expect(acked.size).toBeGreaterThan(40), 10_000);
      await victim.kill('SIGKILL');
      const atKill = acked.size;
      // Generous: on a loaded 2-core machine the election alone can take several seconds.
      await eventually(() => expect(acked.size).toBeGreaterThan(atKill + 40), 45_000, 50);
      const restartedAt = Date.now();
      await victim.restart();
      const rejoinMs = Date.now() - restartedAt;
      const afterRestart = acked.size;
      await eventually(() => expect(acked.size).toBeGreaterThan(afterRestart + 20), 10_000, 50);
      stop = true;
      await Promise.all(writers);

      await eventually(async () => {
        const info = await jsm.streams.info(options.streamName!);
        const peers = [info.cluster?.leader, ...(info.cluster?.replicas ?? []).filter((r) => r.current).map((r) => r.name)];
        expect(peers).toContain(victim.name);
        expect(new Set(peers).size).toBe(3);
      }, 45_000, 100);

      const all = await store.readAll(0, 100_000);
      await expectEveryAckOnceInTheLog(store, all, acked, streams);
      await eventually(() => expect(fed.length).toBe(all.length), 10_000, 50);
      unsubscribe();
      expect(fed.map((e) => e.id)).toEqual(all.map((e) => e.id));
      console.info(`cluster failover: ${acked.size} acked appends, ${failures} failed attempts, slowest ack ${slowest} ms, restarted member healthy after ${rejoinMs} ms, ${all.length} events in the log`);
    } finally {
      await store.close();
    }
  }, 240_000);
});
