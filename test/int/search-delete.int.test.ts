/**
 * The search read model on a real SQLite file: a delete (and an edit) finds its row through
 * an index, never a scan of the full-text table, and takes the message out of the results;
 * a retention sweep finds what it expires through an index once the conversation has had
 * a retention period (and by a scan before); a v1 read model is dropped and rebuilt; a bulk load (rebuild) cut short is healed by
 * `setup`; and a bulk-loaded rebuild ends with the same schema and search answers as a
 * read model built event by event.
 */
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteEventStore, type NewEvent } from '../../engine/store/index.js';
import { ProjectionRunner, builtInProjections, searchMessages } from '../../projections/index.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir();
const open: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

let clock = Date.UTC(2026, 10, 29, 12);
function event(type: string, data: object, actor = 'alice'): NewEvent {
  clock += 1000;
  return {
    id: randomUUID(),
    type,
    data,
    metadata: { actor, commandId: randomUUID(), correlationId: 'c', at: clock, schemaVersion: type === 'MessagePosted' ? 2 : 1 },
  };
}
const posted = (messageId: string, text: string, author = 'alice') => event('MessagePosted', { messageId, author, text, format: 'plain' }, author);

async function setup(name: string) {
  const store = new SqliteEventStore({ file: join(dir.path, `${name}-events.sqlite`) });
  const file = join(dir.path, `${name}-readmodels.sqlite`);
  const db = ProjectionRunner.openDatabase(file);
  open.push(store, db);
  const runner = new ProjectionRunner(store, db, builtInProjections());
  open.push({ close: () => runner.stop() });
  await runner.start();
  let version = 0;
  const append = async (...events: NewEvent[]) => {
    await store.append('conversation-c1', events, { expectedVersion: version });
    version += events.length;
    await runner.waitFor(await store.headPosition());
  };
  return { store, db, file, runner, append };
}

const ids = (db: Database.Database, user: string, q: string) => searchMessages(db, user, q).map((h) => h.messageId);

/** FTS5's own check that the index matches search_docs row for row (throws SQLITE_CORRUPT_VTAB otherwise). */
function checkIndex(db: Database.Database): void {
  db.prepare("INSERT INTO search_messages (search_messages, rank) VALUES ('integrity-check', 1)").run();
}

describe('search read model', () => {
  it('deletes and edits through the message-id index, and a deleted message is no longer found', async () => {
    const { db, append } = await setup('delete');
    await append(
      event('ConversationCreated', { title: 't', createdBy: 'alice', members: ['alice', 'bob'] }),
      posted('m1', 'zebra crossing at noon'),
      posted('m2', 'a zebra and a lion', 'bob'),
      posted('m3', 'lunch later?'),
    );
    expect(ids(db, 'bob', 'zebra')).toEqual(['m2', 'm1']);

    // The plans: the row found by the unique index on message_id, then changed by row id (no full scan).
    const planOf = (sql: string, ...args: unknown[]) =>
      (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as Array<{ detail: string }>).map((r) => r.detail).join('\n');
    expect(planOf('SELECT rowid FROM search_docs WHERE message_id = ?', 'm1')).toMatch(/SEARCH search_docs USING COVERING INDEX search_docs_by_message_id \(message_id=\?\)/);
    for (const sql of ['DELETE FROM search_docs WHERE id = ?', 'UPDATE search_docs SET text = ? WHERE id = ?']) {
      const plan = planOf(sql, ...(sql.startsWith('UPDATE') ? ['x', 1] : [1]));
      expect(plan).toMatch(/SEARCH search_docs USING INTEGER PRIMARY KEY \(rowid=\?\)/);
      expect(plan).not.toMatch(/SCAN/);
    }

    await append(event('MessageDeleted', { messageId: 'm1', deletedBy: 'alice' }));
    expect(ids(db, 'bob', 'zebra')).toEqual(['m2']);
    expect(ids(db, 'bob', 'noon')).toEqual([]);
    expect(db.prepare('SELECT count(*) FROM search_docs WHERE message_id = ?').pluck().get('m1')).toBe(0);

    await append(event('MessageBodyEdited', { messageId: 'm3', update: '', text: 'dinner with the zebra' }));
    expect(ids(db, 'bob', 'zebra')).toEqual(['m3', 'm2']);
    expect(ids(db, 'bob', 'lunch')).toEqual([]);
    expect(searchMessages(db, 'bob', 'dinner')[0]?.snippet).toBe('[dinner] with the zebra');

    // A delete of an edited message, and of one already gone, leave the index consistent.
    await append(event('MessageDeleted', { messageId: 'm3', deletedBy: 'alice' }), event('MessageDeleted', { messageId: 'm3', deletedBy: 'alice' }));
    expect(ids(db, 'bob', 'zebra')).toEqual(['m2']);
    expect(ids(db, 'bob', 'dinner')).toEqual([]);
    checkIndex(db);
    // Membership still decides what one finds.
    expect(ids(db, 'carol', 'zebra')).toEqual([]);
  });

  it('expires messages of a conversation with a retention period through its partial index, and of one without by a scan', async () => {
    const { db, append } = await setup('expire');
    const planOf = (sql: string) => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all('c1', 1) as Array<{ detail: string }>).map((r) => r.detail).join('\n');
    expect(planOf('DELETE FROM search_docs WHERE conversation_id = ? AND seq <= ? AND expires = 1')).toMatch(/USING (COVERING )?INDEX search_docs_expiring/);
    // m1–m3 (seqs 2–4) posted before any retention period, an expiry then (a scan), m4–m5 (7–8) after the period (6).
    await append(event('ConversationCreated', { title: 't', createdBy: 'alice', members: ['alice'] }), posted('m1', 'zebra one'), posted('m2', 'zebra two'), posted('m3', 'zebra three'));
    await append(event('MessagesExpired', { throughSeq: 2, olderThan: clock }, 'system'));
    expect(ids(db, 'alice', 'zebra')).toEqual(['m3', 'm2']);
    expect(db.prepare('SELECT count(*) FROM search_docs WHERE expires = 1').pluck().get()).toBe(0);
    await append(event('RetentionSet', { periodSeconds: 60, setBy: 'alice' }), posted('m4', 'zebra four'), posted('m5', 'zebra five'));
    // Every row of the conversation is in the index from then on, those posted before too.
    expect(db.prepare('SELECT count(*) FROM search_docs WHERE expires = 0').pluck().get()).toBe(0);
    await append(event('MessagesExpired', { throughSeq: 7, olderThan: clock }, 'system'));
    expect(ids(db, 'alice', 'zebra')).toEqual(['m5']);
    // A period taken away again leaves the rows in the index (cheap to keep, needed if it comes back).
    await append(event('RetentionSet', { periodSeconds: null, setBy: 'alice' }), posted('m6', 'zebra six'));
    expect(db.prepare('SELECT count(*) FROM search_docs WHERE expires = 0').pluck().get()).toBe(0);
    await append(event('MessagesExpired', { throughSeq: 9, olderThan: clock }, 'system'));
    expect(ids(db, 'alice', 'zebra')).toEqual(['m6']);
    checkIndex(db);
  });

  it('drops a v1 search read model (message id inside the FTS table) and rebuilds it', async () => {
    const store = new SqliteEventStore({ file: join(dir.path, 'v1-events.sqlite') });
    open.push(store);
    await store.append('conversation-c1', [event('ConversationCreated', { title: 't', createdBy: 'alice', members: ['alice'] }), posted('m1', 'old zebra'), posted('m2', 'old lion')], {
      expectedVersion: 0,
    });
    const file = join(dir.path, 'v1-readmodels.sqlite');
    // As a node of the previous version left it.
    const old = new Database(file);
    old.exec(`CREATE VIRTUAL TABLE search_messages USING fts5(
      text, conversation_id UNINDEXED, seq UNINDEXED, message_id UNINDEXED, author UNINDEXED, at UNINDEXED,
      tokenize = 'unicode61 remove_diacritics 2');
      INSERT INTO search_messages VALUES ('stale row', 'c1', 9, 'm9', 'alice', 0);
      CREATE TABLE projection_checkpoints (name TEXT PRIMARY KEY, version INTEGER NOT NULL, position INTEGER NOT NULL) WITHOUT ROWID;
      INSERT INTO projection_checkpoints VALUES ('search', 1, 3);`);
    old.close();

    const db = ProjectionRunner.openDatabase(file);
    open.push(db);
    const runner = new ProjectionRunner(store, db, builtInProjections());
    open.push({ close: () => runner.stop() });
    await runner.start();
    expect(runner.versionOf('search')).toBe(5);
    expect(ids(db, 'alice', 'zebra')).toEqual(['m1']);
    expect(ids(db, 'alice', 'stale')).toEqual([]);
    await store.append('conversation-c1', [event('MessageDeleted', { messageId: 'm1', deletedBy: 'alice' })], { expectedVersion: 3 });
    await runner.waitFor(await store.headPosition());
    expect(ids(db, 'alice', 'zebra')).toEqual([]);
    checkIndex(db);
  });

  it('heals a bulk load cut short: setup finds the triggers gone and builds the index from search_docs', async () => {
    const { store, db, file, runner, append } = await setup('heal');
    await append(event('ConversationCreated', { title: 't', createdBy: 'alice', members: ['alice'] }), posted('m1', 'zebra one'));
    await runner.stop();
    // What `parley rebuild` leaves when it is killed mid-load: triggers dropped, rows in search_docs only.
    const search = builtInProjections().find((p) => p.name === 'search')!;
    search.beforeBulkLoad!(db);
    db.exec("INSERT INTO search_messages (search_messages) VALUES ('delete-all')");
    db.prepare("INSERT INTO search_docs (id, message_id, conversation_id, seq, author, at, text) VALUES (100, 'm2', 'c1', 3, 'alice', 1, 'zebra two')").run();
    expect(ids(db, 'alice', 'zebra')).toEqual([]);

    const again = new ProjectionRunner(store, ProjectionRunner.openDatabase(file), builtInProjections());
    open.push(again.db, { close: () => again.stop() });
    expect(ids(again.db, 'alice', 'zebra').sort()).toEqual(['m1', 'm2']);
    checkIndex(again.db);
    // And it is kept current again.
    again.db.prepare("DELETE FROM search_docs WHERE message_id = 'm2'").run();
    expect(ids(again.db, 'alice', 'zebra')).toEqual(['m1']);
    checkIndex(again.db);
  });

  it('rebuilds all read models in one pass, with bulk load, to the same schema and answers as built live', async () => {
    const { store, db, runner, append } = await setup('bulk');
    await append(event('ConversationCreated', { title: 't', createdBy: 'alice', members: ['alice', 'bob'] }));
    const words = ['zebra', 'lion', 'noon', 'tea', 'crossing', 'élan', 'naïve'];
    for (let i = 0; i < 300; i++) {
      const batch: NewEvent[] = [posted(`m${i}`, `${words[i % 7]} ${words[(i * 3) % 7]} ${i}`, i % 2 ? 'bob' : 'alice')];
      if (i % 10 === 9) batch.push(event('MessageDeleted', { messageId: `m${i - 4}`, deletedBy: 'alice' }));
      if (i % 15 === 7) batch.push(event('MessageBodyEdited', { messageId: `m${i - 1}`, update: '', text: `edited ${words[i % 7]}` }));
      if (i % 11 === 0) batch.push(event('ReactionAdded', { messageId: `m${i}`, userId: 'bob', emoji: '🔥' }, 'bob'));
      await append(...batch);
    }
    const answers = () => ({
      search: [...words, 'edited', 'ela', '1'].map((q) => searchMessages(db, 'bob', q, { limit: 500 })),
      schema: db.prepare("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name").all(),
    });
    const live = answers();
    expect(live.search[0]!.length).toBeGreaterThan(10);

    const positions: number[] = [];
    await runner.rebuild(runner.projectionNames, (_name, position) => positions.push(position), { bulkLoad: true });
    expect(positions.at(-1)).toBe(await store.headPosition());
    expect(answers()).toEqual(live);
    for (const name of runner.projectionNames) expect(runner.checkpointOf(name)).toBe(await store.headPosition());
    checkIndex(db);

    // Live again after the rebuild: a delete reaches search at once.
    const first = live.search[0]![0]!.messageId;
    await append(event('MessageDeleted', { messageId: first, deletedBy: 'alice' }));
    expect(ids(db, 'bob', 'zebra')).not.toContain(first);
    checkIndex(db);
  });
});
