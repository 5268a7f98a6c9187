/**
 * The projection runner over a partitioned log (3 partitions on one real nats-server, a
 * real SQLite file): it applies every event once, keeps one checkpoint per partition
 * (stored as the cursor token), waits for a position of any partition, and a runner
 * reopened on the same file resumes from those checkpoints: it applies only what came
 * after, in every partition, and nothing twice. An external projection does the same.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PartitionedJetStreamStore } from '../../engine/store/jetstream/index.js';
import type { NewEvent, StoredEvent } from '../../engine/store/port.js';
import type { ExternalProjection } from '../../projections/external.js';
import type { Projection } from '../../projections/projection.js';
import { ProjectionRunner } from '../../projections/runner.js';
import { eventually } from '../helpers/eventually.js';
import { startNatsServer, type NatsSingle } from '../helpers/nats-server.js';
import { streamsInEveryPartition } from '../helpers/partitioned-streams.js';

let server: NatsSingle;
let store: PartitionedJetStreamStore;
let dir: string;
const streams = streamsInEveryPartition(3, 3);

const ev = (type: string): NewEvent => ({
  id: randomUUID(),
  type,
  data: {},
  metadata: { actor: 'a', commandId: randomUUID(), correlationId: 'c', at: Date.now(), schemaVersion: 1 },
});

/** Records each event it applies; a second application of one is a failure (primary key). */
const applications: Projection = {
  name: 'applications',
  version: 1,
  handles: ['Posted'],
  setup: (db) => db.exec('CREATE TABLE IF NOT EXISTS applied (id TEXT PRIMARY KEY, stream TEXT NOT NULL, seq INTEGER NOT NULL)'),
  handle: (events, db) => {
    const insert = db.prepare('INSERT INTO applied VALUES (?, ?, ?)');
    for (const e of events) insert.run(e.id, e.stream, e.seq);
  },
  truncate: (db) => db.exec('DELETE FROM applied'),
};

/** An external projection: what it was handed, in memory (one list per runner). */
function warehouse(seen: StoredEvent[]): ExternalProjection {
  return {
    kind: 'external',
    name: 'warehouse',
    version: 1,
    handles: ['Posted'],
    handle: async (events) => void seen.push(...events),
    truncate: async () => void (seen.length = 0),
  };
}

async function post(round: number): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for (const s of streams) out.push(...(await store.append(s, [ev('Posted')], { expectedVersion: round })).events);
  return out;
}

function applied(db: Database.Database): Array<{ id: string; stream: string; seq: number }> {
  return db.prepare('SELECT id, stream, seq FROM applied ORDER BY stream, seq').all() as Array<{ id: string; stream: string; seq: number }>;
}

beforeAll(async () => {
  server = await startNatsServer();
  const id = randomUUID().replace(/-/g, '').slice(0, 12);
  store = await PartitionedJetStreamStore.connect({ servers: server.url, partitions: 3, streamName: `PARLEY_R_${id}`, subjectPrefix: `parley.r${id}` });
  dir = mkdtempSync(join(tmpdir(), 'parley-runner-partitioned-'));
});
afterAll(async () => {
  await store?.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the projection runner over a partitioned log', () => {
  it('applies every partition once, checkpoints per partition and resumes from there after a restart', async () => {
    expect(new Set(streams.map((s) => store.partitionOf(s))).size).toBe(3);
    const file = join(dir, 'read-models.db');
    const before = [...(await post(0)), ...(await post(1))];

    const firstSeen: StoredEvent[] = [];
    const db1 = ProjectionRunner.openDatabase(file);
    const first = new ProjectionRunner(store, db1, [applications, warehouse(firstSeen)], { batchSize: 4 });
    expect(first.partitions).toBe(3);
    await first.start();
    expect(applied(db1)).toHaveLength(before.length);
    // A position of each partition is waited for and found applied.
    for (const e of before) await first.waitFor(e.position);
    expect(first.cursor.reaches(await store.headCursor())).toBe(true);
    const stored = db1.prepare("SELECT position FROM projection_checkpoints WHERE name = 'applications'").pluck().get();
    expect(stored).toBe(first.cursorOf('applications').encode());
    expect(String(stored)).toMatch(/^c1\./);

    // Live: a new event in every partition; a reader waits for its position.
    const live = await post(2);
    for (const e of live) await first.waitFor(e.position);
    expect(applied(db1)).toHaveLength(before.length + live.length);
    await eventually(() => expect(firstSeen).toHaveLength(before.length + live.length));
    await first.stop();
    db1.close();

    // Events appended while no runner ran, then a new runner on the same file.
    const whileDown = await post(3);
    const secondSeen: StoredEvent[] = [];
    const db2 = ProjectionRunner.openDatabase(file);
    const second = new ProjectionRunner(store, db2, [applications, warehouse(secondSeen)], { batchSize: 4 });
    await second.start();
    const rows = applied(db2);
    expect(rows).toHaveLength(before.length + live.length + whileDown.length);
    for (const s of streams) expect(rows.filter((r) => r.stream === s).map((r) => r.seq)).toEqual([1, 2, 3, 4]);
    // The external projection resumed too: only what it had not been handed.
    await eventually(() => expect(secondSeen.map((e) => e.id).sort()).toEqual(whileDown.map((e) => e.id).sort()));
    await second.stop();
    db2.close();
  });

  it('rebuilds from the start of every partition', async () => {
    const file = join(dir, 'rebuild.db');
    const db = ProjectionRunner.openDatabase(file);
    const runner = new ProjectionRunner(store, db, [applications], { batchSize: 5 });
    await runner.start();
    const total = applied(db).length;
    expect(total).toBe(streams.length * 4);
    await runner.rebuild(['applications']);
    expect(applied(db)).toHaveLength(total);
    expect(runner.cursorOf('applications').reaches(await store.headCursor())).toBe(true);
    await runner.stop();
    db.close();
  });

  it('rebuilds a read model whose checkpoint is of another shape of log (a plain position)', async () => {
    const file = join(dir, 'other-shape.db');
    const db = ProjectionRunner.openDatabase(file);
    applications.setup(db);
    db.exec('CREATE TABLE projection_checkpoints (name TEXT PRIMARY KEY, version INTEGER NOT NULL, position INTEGER NOT NULL) WITHOUT ROWID');
    db.prepare("INSERT INTO applied VALUES ('stale', 'conversation-x', 1)").run();
    db.prepare("INSERT INTO projection_checkpoints VALUES ('applications', 1, 12345)").run();
    const runner = new ProjectionRunner(store, db, [applications]);
    await runner.start();
    const rows = applied(db);
    expect(rows.some((r) => r.id === 'stale')).toBe(false);
    expect(rows).toHaveLength(streams.length * 4);
    await runner.stop();
    db.close();
  });
});
