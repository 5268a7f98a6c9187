/**
 * Appends per second into a log of 1 versus N partitions on one 3-server R3 JetStream
 * cluster (nats-server default sync), in one run: the same writers (one conversation
 * each, `inFlight` appends outstanding in all) against a fresh log per partition count.
 * It measures whether spreading the stream leaders pays on this machine; all three
 * servers and the client share its cores and disk, so it says little about separate
 * servers, where each leader would have its own CPU and disk.
 *
 *   npx tsx bench/partitions.ts [appends per run = 4000] [in flight = 64] [partitions = 3]
 */
import { randomUUID } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { PartitionedJetStreamStore } from '../engine/store/jetstream/index.js';
import type { NewEvent } from '../engine/store/port.js';
import { startNatsCluster } from '../test/helpers/nats-server.js';

const total = Number(process.argv[2] ?? 4000);
const inFlight = Number(process.argv[3] ?? 64);
const partitions = Number(process.argv[4] ?? 3);

const ev = (): NewEvent => ({
  id: randomUUID(),
  type: 'MessagePosted',
  data: { text: 'x'.repeat(120) },
  metadata: { actor: 'bench', commandId: randomUUID(), correlationId: 'bench', at: Date.now(), schemaVersion: 1 },
});

async function run(urls: string[], n: number): Promise<{ perSecond: number; leaders: string[] }> {
  const id = randomUUID().replace(/-/g, '').slice(0, 10);
  const store = await PartitionedJetStreamStore.connect({ servers: urls, replicas: 3, partitions: n, streamName: `BENCH_${id}`, subjectPrefix: `bench.${id}` });
  try {
    const jsm = await jetstreamManager(store.nc);
    const leaders = await Promise.all(store.streamNames.map(async (s) => (await jsm.streams.info(s)).cluster?.leader ?? '?'));
    let issued = 0;
    const writer = async (): Promise<void> => {
      const stream = `conversation-${randomUUID()}`;
      for (let version = 0; issued < total; version++) {
        issued++;
        await store.append(stream, [ev()], { expectedVersion: version });
      }
    };
    // Warm-up: connections, consumers, JIT.
    await Promise.all(Array.from({ length: 8 }, (_, i) => store.append(`conversation-warm-${id}-${i}`, [ev()], { expectedVersion: 0 })));
    const started = performance.now();
    await Promise.all(Array.from({ length: inFlight }, writer));
    return { perSecond: total / ((performance.now() - started) / 1000), leaders };
  } finally {
    await store.close();
  }
}

const cluster = await startNatsCluster(3);
try {
  for (const n of [1, partitions, 1, partitions, 1, partitions]) {
    const { perSecond, leaders } = await run(cluster.urls, n);
    console.log(`partitions=${n} leaders=[${leaders.join(',')}] ${total} appends, ${inFlight} in flight: ${perSecond.toFixed(0)} appends/s`);
  }
} finally {
  await cluster.stop();
}
