/**
 * The read-model thread over a partitioned log (3 partitions on one real nats-server, a
 * real SQLite file, a real worker thread): threaded read models run on the thread at any
 * partition count, apply every event once, checkpoint one entry per partition (stored as
 * the cursor token), let a reader wait for its own writes by cursor, resume per partition
 * after a restart, and pull the log by cursor when they fell behind the live feed.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LogCursor, type StoredEvent } from '../../engine/store/index.js';
import { PartitionedJetStreamStore } from '../../engine/store/jetstream/index.js';
import { ReadModels } from '../../projections/index.js';
import { eventually } from '../helpers/eventually.js';
import { posted } from '../helpers/events.js';
import { startNatsServer, type NatsSingle } from '../helpers/nats-server.js';
import { tempDir } from '../helpers/temp-dir.js';
import { ENTERED, RELEASED, TIMED_OUT, applications, blocking } from '../helpers/thread-projections.js';
import { streamsInEveryPartition } from '../helpers/partitioned-streams.js';

const dir = tempDir();
let server: NatsSingle;
let store: PartitionedJetStreamStore;
/** Three conversations in each of the 3 partitions. */
const streams = streamsInEveryPartition(3, 3);
const open: Array<() => unknown> = [];

beforeAll(async () => {
  server = await startNatsServer();
  const id = randomUUID().replace(/-/g, '').slice(0, 12);
  store = await PartitionedJetStreamStore.connect({ servers: server.url, partitions: 3, streamName: `PARLEY_T_${id}`, subjectPrefix: `parley.t${id}` });
});
afterEach(async () => {
  for (const close of open.splice(0).reverse()) await close();
});
afterAll(async () => {
  await store?.close();
  await server?.stop();
  dir.remove();
});

/** One post in every conversation (so in every partition); the events as appended. */
async function round(text: string): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for (const s of streams) out.push(...(await store.append(s, [posted(text)], { expectedVersion: 'any' })).events);
  return out;
}

/** Every event of the log, page by page by cursor. */
async function wholeLog(): Promise<StoredEvent[]> {
  const all: StoredEvent[] = [];
  for (let after = LogCursor.start(3); ; ) {
    const page = await store.readAllAfter(after, 100);
    if (page.length === 0) return all;
    all.push(...page);
    after = after.advancedBy(page);
  }
}

type Row = { position: number; times: number; thread: number };
const rows = (models: ReadModels): Row[] => models.db.prepare('SELECT position, times, thread FROM test_applications ORDER BY position').all() as Row[];
const positions = (events: StoredEvent[]): number[] => events.map((e) => e.position).sort((a, b) => a - b);

function openModels(file: string, options: ConstructorParameters<typeof ReadModels>[3] = {}, extra: Parameters<typeof blocking>[0] | null = null): ReadModels {
  const models = new ReadModels(store, join(dir.path, file), extra ? [blocking(extra), applications] : [applications], options);
  open.push(async () => {
    await models.stop();
    models.close();
  });
  return models;
}

describe('the read-model thread over a partitioned log', () => {
  it('applies every event once on its thread, waits by cursor, and resumes per partition after a restart', async () => {
    expect(new Set(streams.map((s) => store.partitionOf(s))).size).toBe(3);
    const before = [...(await round('a')), ...(await round('b'))];

    const first = openModels('resume.sqlite');
    expect(first.thread).not.toBeNull();
    await first.start();
    await first.waitForCursor(await store.headCursor());
    expect(rows(first).map((r) => r.position)).toEqual(positions(await wholeLog()));
    // Applied on the read-model thread, not this one.
    expect(rows(first).every((r) => r.times === 1 && r.thread !== threadId)).toBe(true);

    // Read-your-writes: once waitFor / waitForCursor resolve, the read model has the write.
    const live = await round('c');
    for (const e of live.slice(0, 3)) {
      await first.waitFor(e.position);
      expect(first.db.prepare('SELECT times FROM test_applications WHERE position = ?').pluck().get(e.position)).toBe(1);
    }
    const written = LogCursor.start(3).advancedBy(live);
    await first.waitForCursor(written);
    expect(rows(first).map((r) => r.position)).toEqual(positions([...before, ...live]));
    expect(first.cursorOf('test-applications').reaches(written)).toBe(true);
    expect(first.cursor.reaches(written)).toBe(true);
    const stored = first.db.prepare("SELECT position FROM projection_checkpoints WHERE name = 'test-applications'").pluck().get();
    expect(String(stored)).toMatch(/^c1\./);
    expect(LogCursor.decode(String(stored), 3).reaches(written)).toBe(true);
    await open.pop()!();

    // Appended while no thread ran; a new one on the same file applies only those.
    const whileDown = await round('d');
    const second = openModels('resume.sqlite');
    await second.start();
    await second.waitForCursor(await store.headCursor());
    const after = rows(second);
    expect(after.map((r) => r.position)).toEqual(positions([...before, ...live, ...whileDown]));
    expect(after.filter((r) => r.times !== 1)).toEqual([]);
    expect(second.cursorOf('test-applications').reaches(await store.headCursor())).toBe(true);
  });

  it('pulls the log by cursor when it fell behind the live feed: every event applied once, then live again', async () => {
    await round('warm-up');
    const shared = new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT);
    const cells = new Int32Array(shared);
    const release = () => {
      Atomics.store(cells, RELEASED, 1);
      Atomics.notify(cells, RELEASED);
    };
    const models = openModels('behind.sqlite', { maxInFlightEvents: 5 }, shared);
    open.push(release);
    await models.start();
    const head = await store.headCursor();
    await models.waitForCursor(head);

    await store.append(streams[0]!, [posted('block')], { expectedVersion: 'any' });
    await eventually(() => expect(Atomics.load(cells, ENTERED)).toBe(1));
    // One live batch per append, in every partition, while the thread takes none of them.
    const blocked: StoredEvent[] = [];
    for (let i = 0; i < 4; i++) blocked.push(...(await round(`m${i}`)));
    expect(models.thread!.inFlightEvents).toBeLessThanOrEqual(6);

    release();
    const end = await store.headCursor();
    await models.waitForCursor(end, 15_000);
    const applied = rows(models);
    expect(applied.filter((r) => r.times !== 1)).toEqual([]);
    expect(applied.map((r) => r.position)).toEqual(expect.arrayContaining(positions(blocked)));
    expect(applied.map((r) => r.position)).toEqual(positions(await wholeLog()));
    expect(Atomics.load(cells, TIMED_OUT)).toBe(0);

    // Live again: new events arrive without pulling.
    const later = await round('later');
    await models.waitForCursor(LogCursor.start(3).advancedBy(later));
    expect(models.thread!.inFlightEvents).toBe(0);
  });
});
