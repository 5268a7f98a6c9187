/**
 * The runner's rebuild of several read models is one pass over the log: each page is read
 * once for all of them. A poison event stops only the read model that cannot apply it (the
 * others finish, the error names it, a skip lets it recover), and a bulk load whose closing
 * `setup` fails leaves the read model stopped until a retry has run `setup` again.
 * Real SQLite files.
 */
import type Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteEventStore, decorate, type EventStore } from '../../engine/store/index.js';
import { isParleyError } from '../../protocol/index.js';
import { ProjectionRunner, defineProjection } from '../../projections/index.js';
import { eventually } from '../helpers/eventually.js';
import { tempDir } from '../helpers/temp-dir.js';
import { posted } from '../helpers/events.js';

const dir = tempDir();
const open: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});


/** Message texts in a table of its own, with a reader-only index that a bulk load drops. */
const texts = (name: string, options: { poisoned?: boolean; failSetup?: () => boolean } = {}) =>
  defineProjection({
    name,
    version: 1,
    handles: ['MessagePosted'],
    setup(db) {
      if (options.failSetup?.()) throw Object.assign(new Error('disk full'), { code: 'SQLITE_FULL' });
      db.exec(`CREATE TABLE IF NOT EXISTS "${name}" (position INTEGER PRIMARY KEY, text TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS "${name}_by_text" ON "${name}" (text);`);
    },
    truncate: (db) => db.exec(`DELETE FROM "${name}"`),
    beforeBulkLoad: (db) => db.exec(`DROP INDEX IF EXISTS "${name}_by_text"`),
    handle(events, db) {
      const add = db.prepare(`INSERT INTO "${name}" VALUES (?, ?)`);
      for (const e of events) {
        if (options.poisoned && e.data.text.startsWith('poison')) throw new Error(`cannot apply ${e.data.text}`);
        add.run(e.position, e.data.text);
      }
    },
  });

const rows = (db: Database.Database, name: string) => db.prepare(`SELECT text FROM "${name}" ORDER BY position`).pluck().all() as string[];
const hasIndex = (db: Database.Database, name: string) =>
  db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?").get(`${name}_by_text`) !== undefined;

async function setup(name: string, pages: number[]) {
  const raw = new SqliteEventStore({ file: join(dir.path, `${name}-events.sqlite`) });
  // Counts the pages read from the log.
  const store: EventStore = decorate(raw, {
    readAll: async (after, limit) => {
      pages.push(after);
      return raw.readAll(after, limit);
    },
  });
  const db = ProjectionRunner.openDatabase(join(dir.path, `${name}-readmodels.sqlite`));
  open.push(raw, db);
  return { store, db };
}

describe('rebuild in one pass', () => {
  it('reads each page once for every read model; a poison event stops only the one that cannot apply it', async () => {
    const pages: number[] = [];
    const { store, db } = await setup('poison', pages);
    await store.append('conversation-a', [...Array.from({ length: 25 }, (_, i) => posted(`t${i}`)), posted('poison'), posted('after')], { expectedVersion: 0 });
    const runner = new ProjectionRunner(store, db, [texts('one'), texts('two'), texts('poisoned', { poisoned: true })], {
      batchSize: 10,
      retry: { initialMs: 60_000 },
      onError: () => {},
    });
    open.push({ close: () => runner.stop() });

    pages.length = 0;
    const err = await runner.rebuild(undefined, undefined, { bulkLoad: true }).catch((e: unknown) => e);
    // 27 events in pages of 10: 3 pages and the empty read at the end, each read once.
    expect(pages).toEqual([0, 10, 20, 27]);
    expect(isParleyError(err) && err.code).toBe('unavailable');
    expect((err as Error).message).toMatch(/^projection poisoned stopped at position 26 \(MessagePosted\): cannot apply poison;.*parley skip/);
    for (const name of ['one', 'two']) {
      expect(rows(db, name)).toHaveLength(27);
      expect(runner.checkpointOf(name)).toBe(27);
      expect(runner.statusOf(name)?.state).toBe('running');
      expect(hasIndex(db, name)).toBe(true);
    }
    expect(rows(db, 'poisoned')).toHaveLength(25);
    expect(runner.statusOf('poisoned')).toMatchObject({ state: 'failed', failure: { position: 26 } });
    expect(hasIndex(db, 'poisoned')).toBe(true); // built again even though it stopped

    runner.skip('poisoned', 26);
    await eventually(() => expect(runner.statusOf('poisoned')?.state).toBe('running'));
    expect(rows(db, 'poisoned')).toEqual([...Array.from({ length: 25 }, (_, i) => `t${i}`), 'after']);
  });

  it('keeps a read model stopped when setup after the bulk load fails, and its retry runs setup again', async () => {
    const { store, db } = await setup('setup', []);
    await store.append('conversation-b', [posted('a'), posted('b')], { expectedVersion: 0 });
    let failing = false;
    const errors: string[] = [];
    const runner = new ProjectionRunner(store, db, [texts('fragile', { failSetup: () => failing }), texts('sturdy')], {
      retry: { initialMs: 50, maxMs: 50 },
      onError: (name, _err, failure) => errors.push(`${name}: ${failure.code}`),
    });
    open.push({ close: () => runner.stop() });
    await runner.start();

    failing = true;
    const err = await runner.rebuild(['fragile', 'sturdy'], undefined, { bulkLoad: true }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/projection fragile stopped .*disk full/);
    expect(runner.statusOf('fragile')?.state).toBe('failed');
    expect(hasIndex(db, 'fragile')).toBe(false);
    expect(runner.statusOf('sturdy')?.state).toBe('running');
    expect(errors).toContain('fragile: SQLITE_FULL');

    failing = false; // space again
    await eventually(() => expect(runner.statusOf('fragile')?.state).toBe('running'));
    expect(hasIndex(db, 'fragile')).toBe(true);
    expect(rows(db, 'fragile')).toEqual(['a', 'b']);
    await store.append('conversation-b', [posted('c')], { expectedVersion: 2 });
    await runner.waitFor(3);
    expect(rows(db, 'fragile')).toEqual(['a', 'b', 'c']);
  });
});
