/**
 * WAL checkpoints run off the hot path (engine/store/wal-checkpointer.ts): the store's writer
 * and the read-model connection have autocheckpoint off, and the checkpointer thread keeps
 * their WAL files under a bound. Without the checkpointer the same load grows the WAL past
 * that bound (so the bound is the checkpointer's doing), and the data is intact on reopening.
 * Sizes are asserted, never times.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteEventStore } from '../../engine/store/index.js';
import { WAL_BACKSTOP_PAGES, WalCheckpointer, type CheckpointRun } from '../../engine/store/wal-checkpointer.js';
import { ProjectionRunner } from '../../projections/index.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir('parley-wal-checkpoint-');
afterAll(() => dir.remove());

const KiB = 1024;
const MiB = 1024 * KiB;
// Small thresholds so a test-sized load shows the difference: checkpoints past 256 KiB,
// a TRUNCATE tried past 1 MiB; the WAL must stay under BOUND, and grows past it without.
const settings = { thresholdBytes: 256 * KiB, capBytes: 1 * MiB, intervalMs: 10 };
const BOUND = 8 * MiB; // far under the writers' 64 MiB backstop (WAL_BACKSTOP_PAGES)
const APPENDS = 500;
const EVENTS_PER_APPEND = 8;
const PAYLOAD = 'x'.repeat(3 * KiB); // ~12 MiB of events in all

const walSize = (file: string) => {
  try {
    return statSync(`${file}-wal`).size;
  } catch {
    return 0;
  }
};

const event = (id: string) => ({
  id,
  type: 'Note',
  data: { id, text: PAYLOAD },
  metadata: { actor: 'system', commandId: id, correlationId: id, at: Date.now(), schemaVersion: 1 },
});

/** Appends the load, one commit per append; returns the largest WAL size seen after a commit. */
async function load(store: SqliteEventStore, file: string, tag: string): Promise<number> {
  let largest = 0;
  for (let i = 0; i < APPENDS; i++) {
    const events = Array.from({ length: EVENTS_PER_APPEND }, (_, j) => event(`${tag}-${i}-${j}`));
    await store.append(`s-${i % 10}`, events, { expectedVersion: 'any' });
    largest = Math.max(largest, walSize(file));
  }
  return largest;
}

async function reopenAndCount(file: string, tag: string): Promise<void> {
  const store = new SqliteEventStore({ file, checkpointer: false });
  try {
    const all = await store.readAll(0, APPENDS * EVENTS_PER_APPEND + 10);
    expect(all).toHaveLength(APPENDS * EVENTS_PER_APPEND);
    expect(all.at(-1)!.id).toBe(`${tag}-${APPENDS - 1}-${EVENTS_PER_APPEND - 1}`);
    expect((all.at(-1)!.data as { text: string }).text).toBe(PAYLOAD);
    expect(new Set(all.map((e) => e.id)).size).toBe(all.length);
  } finally {
    await store.close();
  }
}

describe('WAL checkpoints off the hot path', () => {
  it('event store: the checkpointer keeps the WAL under the bound; data intact after reopening', async () => {
    const file = join(dir.path, 'with.sqlite');
    const runs: CheckpointRun[] = [];
    const errors: Error[] = [];
    const store = new SqliteEventStore({ file, checkpointer: { ...settings, onCheckpoint: (c) => runs.push(c), onError: (e) => errors.push(e) } });
    let largest: number;
    try {
      largest = await load(store, file, 'w');
    } finally {
      await store.close();
    }
    console.log(`with checkpointer: largest WAL ${(largest / MiB).toFixed(2)} MiB, ${runs.length} checkpoints (${runs.filter((r) => r.mode === 'TRUNCATE').length} TRUNCATE)`);
    expect(errors).toEqual([]);
    expect(runs.some((r) => r.mode === 'PASSIVE' && r.checkpointed > 0)).toBe(true);
    expect(largest).toBeLessThan(BOUND);
    await reopenAndCount(file, 'w');
  }, 60_000);

  it('event store: without the checkpointer the same load grows the WAL past the bound', async () => {
    const file = join(dir.path, 'without.sqlite');
    const store = new SqliteEventStore({ file, checkpointer: false });
    let largest: number;
    try {
      largest = await load(store, file, 'n');
    } finally {
      await store.close();
    }
    console.log(`without checkpointer: largest WAL ${(largest / MiB).toFixed(2)} MiB`);
    expect(largest).toBeGreaterThan(BOUND);
    await reopenAndCount(file, 'n');
  }, 60_000);

  it('read models: autocheckpoint off plus the checkpointer keeps their WAL under the bound', async () => {
    const file = join(dir.path, 'readmodels.sqlite');
    // As in the node, each read-model update follows a commit of the log.
    const log = new SqliteEventStore({ file: join(dir.path, 'log.sqlite'), checkpointer: settings });
    const db = ProjectionRunner.openDatabase(file);
    db.pragma(`wal_autocheckpoint = ${WAL_BACKSTOP_PAGES}`); // as engine/node/node.ts opens it
    db.exec('CREATE TABLE rows (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
    const checkpointer = new WalCheckpointer({ files: [file], ...settings });
    const insert = db.prepare('INSERT INTO rows (id, body) VALUES (?, ?)');
    const batch = db.transaction((from: number) => {
      for (let i = from; i < from + EVENTS_PER_APPEND; i++) insert.run(i, PAYLOAD);
    });
    let largest = 0;
    try {
      for (let i = 0; i < APPENDS; i++) {
        await log.append('s', [event(`r-${i}`)], { expectedVersion: 'any' });
        batch(i * EVENTS_PER_APPEND);
        largest = Math.max(largest, walSize(file));
      }
    } finally {
      await log.close();
      await checkpointer.stop();
      db.close();
    }
    console.log(`read models with checkpointer: largest WAL ${(largest / MiB).toFixed(2)} MiB`);
    expect(largest).toBeLessThan(BOUND);
    const again = new Database(file, { readonly: true });
    try {
      expect(again.prepare('SELECT count(*) FROM rows').pluck().get()).toBe(APPENDS * EVENTS_PER_APPEND);
    } finally {
      again.close();
    }
  }, 60_000);
});
