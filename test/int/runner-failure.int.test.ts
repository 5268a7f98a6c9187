/**
 * A projection that throws stops alone, is reported, retries with backoff, and resumes
 * after a transient error clears or an operator skips its poison event; the runner never
 * throws out of its feed or timer callbacks and readers never hang on a stopped projection.
 * Real SQLite files; a real SQLITE_FULL through `PRAGMA max_page_count`.
 */
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteEventStore, type NewEvent, type StoredEvent } from '../../engine/store/index.js';
import { isParleyError } from '../../protocol/index.js';
import {
  ProjectionRunner,
  defineExternalProjection,
  defineProjection,
  recordSkip,
  skipsOf,
  type ProjectionFailure,
  type RunnerOptions,
} from '../../projections/index.js';
import { eventually } from '../helpers/eventually.js';
import { tempDir } from '../helpers/temp-dir.js';
import { posted } from '../helpers/events.js';

const dir = tempDir();
const open: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});


/** Keeps every message text it saw, in a table of its own; throws on texts starting with "poison". */
const texts = (name: string, poisoned = true) =>
  defineProjection({
    name,
    version: 1,
    handles: ['MessagePosted'],
    setup: (db) => db.exec(`CREATE TABLE IF NOT EXISTS "${name}" (position INTEGER PRIMARY KEY, text TEXT NOT NULL)`),
    truncate: (db) => db.exec(`DELETE FROM "${name}"`),
    handle(events, db) {
      // A plain INSERT: applying an event twice would fail, so exactly-once shows.
      const add = db.prepare(`INSERT INTO "${name}" VALUES (?, ?)`);
      for (const e of events) {
        if (poisoned && e.data.text.startsWith('poison')) throw new Error(`cannot apply ${e.data.text}`);
        add.run(e.position, e.data.text);
      }
    },
  });

function left(userId: string): NewEvent {
  return {
    id: randomUUID(),
    type: 'MemberLeft',
    data: { userId },
    metadata: { actor: 'alice', commandId: randomUUID(), correlationId: 'c', at: Date.now(), schemaVersion: 1 },
  };
}

const rows = (db: Database.Database, name: string) => db.prepare(`SELECT text FROM "${name}" ORDER BY position`).pluck().all() as string[];

function setup(name: string) {
  const store = new SqliteEventStore({ file: join(dir.path, `${name}-events.sqlite`) });
  const file = join(dir.path, `${name}-rm.sqlite`);
  const db = ProjectionRunner.openDatabase(file);
  open.push(store, db);
  return { store, db, file };
}

function reports() {
  const errors: Array<{ name: string; failure: ProjectionFailure }> = [];
  const recovered: string[] = [];
  const options: RunnerOptions = {
    onError: (name, _err, failure) => errors.push({ name, failure: { ...failure } }),
    onRecovered: (name) => recovered.push(name),
    retry: { initialMs: 20, maxMs: 200 },
  };
  return { errors, recovered, options };
}

describe('projection runner under failures', () => {
  it('stops only the projection that throws on a live event, retries it, and resumes it after a skip', async () => {
    const { store, db } = setup('live');
    const r = reports();
    const runner = new ProjectionRunner(store, db, [texts('poisoned'), texts('healthy', false)], r.options);
    open.push({ close: () => runner.stop() });
    await runner.start();
    await store.append('conversation-a', [posted('one'), posted('two')], { expectedVersion: 0 });
    const [bad] = (await store.append('conversation-a', [posted('poison pill')], { expectedVersion: 2 })).events;
    await store.append('conversation-a', [posted('three')], { expectedVersion: 3 });
    const head = await store.headPosition();

    // Readers are not held up by the stopped projection: the healthy one has everything.
    await runner.waitFor(head);
    await eventually(() => expect(rows(db, 'healthy')).toEqual(['one', 'two', 'poison pill', 'three']));
    await eventually(() => expect(r.errors.length).toBeGreaterThanOrEqual(3)); // it keeps retrying
    const status = runner.statusOf('poisoned')!;
    expect(status.state).toBe('failed');
    expect(status.failure).toMatchObject({ position: bad!.position, eventType: 'MessagePosted', stream: 'conversation-a' });
    expect(status.failure!.error).toContain('cannot apply poison pill');
    expect(r.errors.every((e) => e.name === 'poisoned' && e.failure.position === bad!.position)).toBe(true);
    expect(r.errors.map((e) => e.failure.attempts)).toEqual(r.errors.map((_, i) => i + 1));
    // Everything before the poison event is applied, nothing after it.
    expect(runner.checkpointOf('poisoned')).toBe(bad!.position - 1);
    expect(rows(db, 'poisoned')).toEqual(['one', 'two']);
    expect(runner.position).toBe(bad!.position - 1);
    expect(runner.statusOf('healthy')).toEqual({ state: 'running', failure: null, skipped: [] });

    runner.skip('poisoned', bad!.position, 'test: cannot be applied');
    await eventually(() => expect(runner.statusOf('poisoned')).toEqual({ state: 'running', failure: null, skipped: [bad!.position] }));
    expect(rows(db, 'poisoned')).toEqual(['one', 'two', 'three']);
    expect(runner.checkpointOf('poisoned')).toBe(head);
    expect(r.recovered).toEqual(['poisoned']);
    expect(skipsOf(db)).toEqual([{ projection: 'poisoned', position: bad!.position, reason: 'test: cannot be applied', at: expect.any(Number) }]);

    // Live again: new events reach it at once.
    await store.append('conversation-a', [posted('four')], { expectedVersion: 4 });
    await runner.waitFor(await store.headPosition());
    expect(rows(db, 'poisoned')).toEqual(['one', 'two', 'three', 'four']);
  });

  it('starts with a poison event in the log, and takes a skip another process wrote to the file', async () => {
    const { store, db, file } = setup('start');
    await store.append('conversation-b', [posted('a'), posted('poison'), posted('b')], { expectedVersion: 0 });
    const r = reports();
    const runner = new ProjectionRunner(store, db, [texts('poisoned'), texts('healthy', false)], r.options);
    open.push({ close: () => runner.stop() });
    await runner.start(); // does not throw
    expect(runner.statusOf('poisoned')).toMatchObject({ state: 'failed', failure: { position: 2, attempts: 1 } });
    expect(rows(db, 'healthy')).toEqual(['a', 'poison', 'b']);
    await runner.waitFor(3);

    // As `parley skip` does it: its own connection to the read-model file of a running node.
    const cli = new Database(file);
    recordSkip(cli, 'poisoned', 2, 'from another process');
    cli.close();
    await eventually(() => expect(runner.statusOf('poisoned')?.state).toBe('running'));
    expect(rows(db, 'poisoned')).toEqual(['a', 'b']);
    await runner.stop();

    // The skip is durable: a new runner over the same files passes over it from the start.
    db.exec('DELETE FROM projection_checkpoints');
    const again = new ProjectionRunner(store, db, [texts('poisoned')], r.options);
    await again.rebuild(['poisoned']);
    expect(rows(db, 'poisoned')).toEqual(['a', 'b']);
  });

  it('fails closed for readers while a read model that guards access is stopped with a removal not applied', async () => {
    const { store, db } = setup('guard');
    const r = reports();
    const membership = { ...texts('membership'), accessRevokedBy: ['MemberLeft'] };
    // At start-up it stops on position 2, and the log already holds a removal at 3.
    await store.append('conversation-g', [posted('a'), posted('poison'), left('bob')], { expectedVersion: 0 });
    const runner = new ProjectionRunner(store, db, [membership, texts('healthy', false)], { ...r.options, retry: { initialMs: 60_000 } });
    open.push({ close: () => runner.stop() });
    await runner.start();
    expect(runner.statusOf('membership')).toMatchObject({ state: 'failed', failure: { position: 2 } });
    await runner.waitFor(1); // what it has applied can be read
    // Readers of a position before the removal read what it holds, once the log is looked through.
    await eventually(() => runner.waitFor(2));
    const err = await runner.waitFor(3).catch((e: unknown) => e);
    expect(isParleyError(err) && err.code).toBe('unavailable');
    expect((err as Error).message).toMatch(/read model membership is stopped \(at position 2\)/);

    // A removal that comes live is seen too, and a reader already waiting for it is told at once.
    runner.skip('membership', 2);
    await eventually(() => expect(runner.statusOf('membership')?.state).toBe('running'));
    await store.append('conversation-g', [posted('poison 2')], { expectedVersion: 3 });
    await eventually(() => expect(runner.statusOf('membership')?.failure?.position).toBe(4));
    await eventually(() => runner.waitFor(4));
    const waiting = runner.waitFor(6, 60_000).catch((e: unknown) => e);
    await store.append('conversation-g', [posted('b'), left('carol')], { expectedVersion: 4 });
    expect(await waiting).toMatchObject({ code: 'unavailable' });
    await runner.waitFor(5);
    await expect(runner.waitFor(6)).rejects.toMatchObject({ code: 'unavailable' });
    runner.skip('membership', 4);
    await eventually(() => expect(runner.statusOf('membership')?.state).toBe('running'));
    await runner.waitFor(6);
    expect(rows(db, 'membership')).toEqual(['a', 'b']);
  });

  it('stops on SQLITE_FULL without throwing, reports the code, and heals by itself when space returns', async () => {
    const { store, db } = setup('full');
    const r = reports();
    const runner = new ProjectionRunner(store, db, [texts('first', false), texts('second', false)], r.options);
    open.push({ close: () => runner.stop() });
    await runner.start();
    const pages = db.pragma('page_count', { simple: true }) as number;
    db.pragma(`max_page_count = ${pages + 4}`); // a disk with a few pages free
    const big = 'x'.repeat(20_000);
    const texts_ = Array.from({ length: 6 }, (_, i) => `${i} ${big}`);
    for (const [i, t] of texts_.entries()) await store.append('conversation-c', [posted(t)], { expectedVersion: i });
    const head = await store.headPosition();
    await eventually(() => expect(r.errors.some((e) => e.failure.code === 'SQLITE_FULL')).toBe(true));
    // Readers do not hang on the stopped projections.
    await runner.waitFor(head);
    expect(runner.position).toBeLessThan(head);

    db.pragma('max_page_count = 1073741823'); // space again
    await eventually(() => {
      expect(runner.statusOf('first')?.state).toBe('running');
      expect(runner.statusOf('second')?.state).toBe('running');
    });
    expect(rows(db, 'first').map((t) => t.split(' ')[0])).toEqual(['0', '1', '2', '3', '4', '5']);
    expect(rows(db, 'second').map((t) => t.split(' ')[0])).toEqual(['0', '1', '2', '3', '4', '5']);
    expect(runner.position).toBe(head);
  });

  it('fails a rebuild that meets a poison event with a coded error, and rebuilds once it is skipped', async () => {
    const { store, db } = setup('rebuild');
    await store.append('conversation-d', [posted('a'), posted('b')], { expectedVersion: 0 });
    const r = reports();
    const runner = new ProjectionRunner(store, db, [texts('poisoned')], r.options);
    open.push({ close: () => runner.stop() });
    await runner.start();
    await store.append('conversation-d', [posted('poison')], { expectedVersion: 2 });
    await eventually(() => expect(runner.statusOf('poisoned')?.state).toBe('failed'));
    const err = await runner.rebuild(['poisoned']).catch((e: unknown) => e);
    expect(isParleyError(err) && err.code).toBe('unavailable');
    expect((err as Error).message).toMatch(/stopped at position 3 .*parley skip/);
    expect(runner.statusOf('poisoned')?.state).toBe('failed');
    runner.skip('poisoned', 3);
    await eventually(() => expect(runner.statusOf('poisoned')?.state).toBe('running'));
    await runner.rebuild(['poisoned']);
    expect(rows(db, 'poisoned')).toEqual(['a', 'b']);
  });

  it('stops retrying when the runner stops, and stop does not wait for the backoff', async () => {
    const { store, db } = setup('stop');
    await store.append('conversation-e', [posted('poison')], { expectedVersion: 0 });
    const r = reports();
    const runner = new ProjectionRunner(store, db, [texts('poisoned')], { ...r.options, retry: { initialMs: 60_000 } });
    await runner.start();
    expect(runner.statusOf('poisoned')?.state).toBe('failed');
    await runner.stop(); // would hang for a minute if it waited for the retry
    const attempts = r.errors.length;
    await store.append('conversation-e', [posted('poison again')], { expectedVersion: 1 });
    expect(r.errors.length).toBe(attempts);
  });

  it('names the event an external projection fails on, and passes it after a skip', async () => {
    const { store, db } = setup('external');
    const seen = new Map<number, string>();
    const sink = defineExternalProjection({
      name: 'warehouse',
      version: 1,
      handles: ['MessagePosted'],
      async handle(events: StoredEvent[]) {
        for (const e of events) if ((e.data as { text?: string }).text === 'poison') throw new Error('warehouse rejects it');
        for (const e of events) seen.set(e.position, (e.data as { text: string }).text);
      },
      async truncate() {
        seen.clear();
      },
    });
    await store.append('conversation-f', [posted('x'), posted('poison'), posted('y')], { expectedVersion: 0 });
    const r = reports();
    const runner = new ProjectionRunner(store, db, [sink], r.options);
    open.push({ close: () => runner.stop() });
    await runner.start();
    // After the first failure it retries one event at a time, so the failure names position 2.
    await eventually(() => expect(runner.statusOf('warehouse')?.failure).toMatchObject({ position: 2, eventType: 'MessagePosted' }));
    expect([...seen.values()]).toEqual(['x']);
    runner.skip('warehouse', 2);
    await eventually(() => expect([...seen.values()]).toEqual(['x', 'y']));
    await eventually(() => expect(runner.statusOf('warehouse')).toEqual({ state: 'running', failure: null, skipped: [2] }));
    expect(r.recovered).toEqual(['warehouse']);
  });
});
