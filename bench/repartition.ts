/**
 * How fast `parley repartition` copies a log: a fresh nats-server (R1, default sync), a log
 * of 50 conversations × `each` envelopes (200-byte events, every other one with an
 * idempotency key), then 1 → 3 and 3 → 2 partitions, timed, in one run.
 *
 *   npx tsx bench/repartition.ts [envelopes per conversation = 100]
 */
import { randomUUID } from 'node:crypto';
import { JetStreamEventStore, repartition } from '../engine/store/jetstream/index.js';
import type { NewEvent } from '../engine/store/port.js';
import { startNatsServer } from '../test/helpers/nats-server.js';

const each = Number(process.argv[2] ?? 100);
const CONVERSATIONS = 50;

const ev = (): NewEvent => ({
  id: randomUUID(),
  type: 'MessagePosted',
  data: { text: 'x'.repeat(200) },
  metadata: { actor: 'bench', commandId: randomUUID(), correlationId: 'bench', at: Date.now(), schemaVersion: 1 },
});

async function fill(store: JetStreamEventStore): Promise<void> {
  const conversations = Array.from({ length: CONVERSATIONS }, () => `conversation-${randomUUID()}`);
  await Promise.all(
    conversations.map(async (c) => {
      for (let version = 0; version < each; version++) {
        const keyed = version % 2 === 0 ? { idempotency: { key: randomUUID(), fingerprint: 'f', result: { seq: version + 1 } } } : {};
        await store.append(c, [ev()], { expectedVersion: version, ...keyed });
      }
    }),
  );
}

const nats = await startNatsServer();
try {
  const base = { servers: [nats.url], streamName: 'BENCH_REPARTITION', subjectPrefix: 'bench.repartition', replicas: 1 };
  const store = await JetStreamEventStore.connect(base);
  await fill(store);
  await store.close();
  process.stdout.write(`log: ${CONVERSATIONS} conversations × ${each} envelopes, one nats-server ${nats.url}\n`);
  for (const to of [3, 2]) {
    const started = performance.now();
    const result = await repartition({ base, to });
    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(`${result.from.partitions} → ${result.to.partitions}: ${result.copied} envelopes in ${seconds.toFixed(2)} s (${Math.round(result.copied / seconds)}/s)\n`);
  }
} finally {
  await nats.stop();
}
