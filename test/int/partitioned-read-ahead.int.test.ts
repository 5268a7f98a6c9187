/**
 * Whole-log reads of a partitioned log page by page (3 partitions on a real nats-server):
 * what a page fetched and did not return is served to the next page instead of fetched
 * again, and reading that way, with appends landing between pages and pages of random
 * sizes, still gives every event once and each conversation in order. Seeded: the seed
 * is printed (replay with PARLEY_READ_AHEAD_SEED).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LogCursor } from '../../engine/store/log-cursor.js';
import { JetStreamEventStore, PartitionedJetStreamStore } from '../../engine/store/jetstream/index.js';
import type { NewEvent, StoredEvent } from '../../engine/store/port.js';
import { startNatsServer, type NatsSingle } from '../helpers/nats-server.js';
import { seedFrom, seededRandom } from '../helpers/seeded-random.js';
import { streamsInEveryPartition } from '../helpers/partitioned-streams.js';

const N = 3;
let server: NatsSingle;

const ev = (type: string): NewEvent => ({
  id: randomUUID(),
  type,
  data: {},
  metadata: { actor: 'a', commandId: randomUUID(), correlationId: 'c', at: Date.now(), schemaVersion: 1 },
});

async function openStore(): Promise<PartitionedJetStreamStore> {
  const id = randomUUID().replace(/-/g, '').slice(0, 12);
  return PartitionedJetStreamStore.connect({ servers: server.url, partitions: N, streamName: `PARLEY_RA_${id}`, subjectPrefix: `parley.ra${id}` });
}

/** Reads the rest of the log after `cursor` in pages of `limit`; returns the events and the cursor reached. */
async function readRest(store: PartitionedJetStreamStore, cursor: LogCursor, limit: () => number): Promise<{ events: StoredEvent[]; cursor: LogCursor }> {
  const events: StoredEvent[] = [];
  for (;;) {
    const page = await store.readAllAfter(cursor, limit());
    if (page.length === 0) return { events, cursor };
    events.push(...page);
    cursor = cursor.advancedBy(page);
  }
}

beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  vi.restoreAllMocks();
  await server?.stop();
});

describe('paging through a partitioned log', () => {
  it('fetches each event from its partition about once, not once per partition', async () => {
    const store = await openStore();
    try {
      const streams = streamsInEveryPartition(N, 4);
      expect(new Set(streams.map((s) => store.partitionOf(s))).size).toBe(N);
      for (let round = 0; round < 20; round++) for (const s of streams) await store.append(s, [ev('E')], { expectedVersion: round });
      const total = 20 * streams.length;
      const reads = vi.spyOn(JetStreamEventStore.prototype, 'readAll');
      const { events } = await readRest(store, LogCursor.start(N), () => 25);
      const fetched = (await Promise.all(reads.mock.results.map((r) => r.value as Promise<StoredEvent[]>))).reduce((a, page) => a + page.length, 0);
      reads.mockRestore();
      expect(events).toHaveLength(total);
      // Without what a page kept, every page fetched up to 25 from each of the 3 partitions
      // to return 25: about 3 × total.
      expect(fetched).toBeLessThanOrEqual(total + N * 25);
    } finally {
      await store.close();
    }
  });

  it('gives every event once and each conversation in order, with appends between pages of random sizes', async () => {
    const seed = seedFrom('PARLEY_READ_AHEAD_SEED');
    console.log(`partitioned read-ahead seed: ${seed} (replay with PARLEY_READ_AHEAD_SEED=${seed})`);
    const random = seededRandom(seed);
    const store = await openStore();
    try {
      const streams = Array.from({ length: 9 }, () => `conversation-${randomUUID()}`);
      const versions = new Map(streams.map((s) => [s, 0]));
      const append = async (count: number) => {
        for (let i = 0; i < count; i++) {
          const s = random.pick(streams);
          await store.append(s, [ev('E')], { expectedVersion: versions.get(s)! });
          versions.set(s, versions.get(s)! + 1);
        }
      };
      await append(60);
      const seen: StoredEvent[] = [];
      let cursor = LogCursor.start(N);
      for (let page = 0; page < 40; page++) {
        const events = await store.readAllAfter(cursor, random.between(1, 12));
        seen.push(...events);
        cursor = cursor.advancedBy(events);
        if (random.chance(0.5)) await append(random.between(1, 6));
      }
      seen.push(...(await readRest(store, cursor, () => random.between(1, 12))).events);
      const appended = [...versions.values()].reduce((a, b) => a + b, 0);
      expect(new Set(seen.map((e) => e.id)).size).toBe(seen.length);
      expect(seen).toHaveLength(appended);
      for (const s of streams) {
        expect(seen.filter((e) => e.stream === s).map((e) => e.seq)).toEqual(Array.from({ length: versions.get(s)! }, (_, i) => i + 1));
      }
    } finally {
      await store.close();
    }
  });
});
