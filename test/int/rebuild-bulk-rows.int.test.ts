/**
 * A bulk load (`parley rebuild`) finds the rows of history, the conversation list and search
 * by message id in memory instead of through their unique indexes (built after the load).
 * The tables it leaves must be the ones built event by event, row for row — also when the
 * log holds a message id posted twice or posted again after a delete, and when a page's
 * shared transaction rolls back (a poison event in another read model) and every read model
 * applies that page again on its own, after the in-memory map saw rows that are gone.
 * A load cut short (the map lost with the process) is healed by the next start's `setup`.
 * Real SQLite files.
 */
import type Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteEventStore, type NewEvent } from '../../engine/store/index.js';
import { ProjectionRunner, builtInProjections, conversationsOf, defineProjection, readMessages, searchMessages } from '../../projections/index.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir();
const open: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

let clock = Date.UTC(2026, 10, 30, 9);
function event(type: string, data: object, actor = 'alice'): NewEvent {
  clock += 1000;
  return { id: randomUUID(), type, data, metadata: { actor, commandId: randomUUID(), correlationId: 'c', at: clock, schemaVersion: type === 'MessagePosted' ? 2 : 1 } };
}
const posted = (messageId: string, text: string, author = 'alice') => event('MessagePosted', { messageId, author, text, format: 'plain' }, author);
const deleted = (messageId: string) => event('MessageDeleted', { messageId, deletedBy: 'alice' });

/** Throws on the message whose text is "poison" until told not to: its page's shared transaction rolls back. */
let poisoned = true;
const tripwire = defineProjection({
  name: 'tripwire',
  version: 1,
  handles: ['MessagePosted'],
  setup: () => {},
  truncate: () => {},
  handle(events) {
    if (poisoned && events.some((e) => e.data.text === 'poison')) throw new Error('tripwire');
  },
});

const TABLES = ['messages', 'list_messages', 'search_docs', 'conversations', 'members', 'analytics_messages_hourly', 'analytics_active_users', 'analytics_replies', 'analytics_waiting', 'analytics_reactions'];

function snapshot(db: Database.Database) {
  const tables = Object.fromEntries(TABLES.map((t) => [t, db.prepare(`SELECT * FROM ${t} ORDER BY 1, 2`).all()]));
  return {
    tables,
    history: readMessages(db, 'c1', { limit: 1000 }),
    list: ['alice', 'bob'].map((u) => conversationsOf(db, u)),
    search: ['zebra', 'lion', 'again', 'edited', 'poison'].map((q) => searchMessages(db, 'bob', q, { limit: 500 })),
    indexes: db.prepare("SELECT name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') ORDER BY name").all(),
  };
}

describe('bulk load with message rows found in memory', () => {
  it('leaves the tables and answers built event by event, through duplicates, re-posts and rolled-back pages', async () => {
    const store = new SqliteEventStore({ file: join(dir.path, 'events.sqlite') });
    const db = ProjectionRunner.openDatabase(join(dir.path, 'readmodels.sqlite'));
    open.push(store, db);
    const events: NewEvent[] = [event('ConversationCreated', { title: 't', createdBy: 'alice', members: ['alice', 'bob'] })];
    for (let i = 0; i < 120; i++) {
      events.push(posted(`m${i}`, i === 57 ? 'poison' : `${i % 2 ? 'zebra' : 'lion'} ${i}`, i % 3 ? 'bob' : 'alice'));
      if (i % 7 === 6) events.push(deleted(`m${i - 3}`));
      if (i % 9 === 4) events.push(event('MessageBodyEdited', { messageId: `m${i - 1}`, update: '', text: `edited zebra ${i}` }));
      if (i % 8 === 5) events.push(event('ReactionAdded', { messageId: `m${i - 2}`, userId: 'bob', emoji: '🔥' }, 'bob'));
      if (i % 10 === 8) events.push(event('ReadMarkerSet', { userId: 'alice', seq: events.length - 5 }));
    }
    // Not what the deciders write, but what a log may hold: the same id posted twice, and again after a delete.
    events.push(posted('m10', 'zebra twice'), deleted('m20'), posted('m20', 'zebra again'), event('MessageBodyEdited', { messageId: 'm20', update: '', text: 'again edited' }));
    // And twice in a row, so both are in one page and the first may not be written yet when the second comes.
    events.push(posted('m500', 'lion first'), posted('m500', 'lion second'));
    await store.append('conversation-c1', events, { expectedVersion: 0 });

    poisoned = false;
    const live = new ProjectionRunner(store, db, [...builtInProjections(), tripwire], { onError: () => {} });
    open.push({ close: () => live.stop() });
    await live.start();
    const expected = snapshot(db);
    expect(expected.tables.messages).toHaveLength(121);
    expect(expected.search[2]!.map((h) => h.messageId)).toEqual(['m20']);
    await live.stop();

    // Pages of 16: the page with "poison" rolls back for everyone, then each applies it alone.
    poisoned = true;
    const runner = new ProjectionRunner(store, db, [...builtInProjections(), tripwire], { batchSize: 16, onError: () => {}, retry: { initialMs: 60_000 } });
    open.push({ close: () => runner.stop() });
    const err = await runner.rebuild(undefined, undefined, { bulkLoad: true }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/^projection tripwire stopped/);
    for (const p of builtInProjections()) expect(runner.statusOf(p.name)?.state).toBe('running');
    expect(snapshot(db)).toEqual(expected);
  });

  it('heals a bulk load cut short: the next start builds the message-id indexes, and deletes find their rows through them', async () => {
    const store = new SqliteEventStore({ file: join(dir.path, 'cut-events.sqlite') });
    const file = join(dir.path, 'cut-readmodels.sqlite');
    const db = ProjectionRunner.openDatabase(file);
    open.push(store, db);
    await store.append('conversation-c1', [event('ConversationCreated', { title: 't', createdBy: 'alice', members: ['alice', 'bob'] }), posted('m1', 'zebra one'), posted('m2', 'zebra two')], {
      expectedVersion: 0,
    });
    const first = new ProjectionRunner(store, db, builtInProjections());
    await first.start();
    await first.stop();
    // What `parley rebuild` leaves when it is killed mid-load: what only readers need dropped.
    for (const p of builtInProjections()) p.beforeBulkLoad?.(db);
    const messageIdIndexes = () =>
      // mentions keeps its own: its deletes look rows up through it during the load (mentions are few, no in-memory rows).
      db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE '%by_message_id' AND name != 'mentions_by_message_id' ORDER BY name").pluck().all();
    expect(messageIdIndexes()).toEqual([]);

    const again = new ProjectionRunner(store, ProjectionRunner.openDatabase(file), builtInProjections());
    open.push(again.db, { close: () => again.stop() });
    expect(messageIdIndexes()).toEqual(['list_messages_by_message_id', 'messages_by_message_id', 'search_docs_by_message_id', 'thread_replies_by_message_id']);
    await again.start();
    await store.append('conversation-c1', [deleted('m1')], { expectedVersion: 3 });
    await again.waitFor(await store.headPosition());
    expect(readMessages(again.db, 'c1', { limit: 10 }).map((m) => [m.messageId, m.deleted])).toEqual([['m1', true], ['m2', false]]);
    expect(searchMessages(again.db, 'bob', 'zebra').map((h) => h.messageId)).toEqual(['m2']);
    expect(conversationsOf(again.db, 'bob')[0]?.lastMessage?.messageId).toBe('m2');
  });
});
