/**
 * Documents out of the log with a real SQLite store and read model: snapshots keep
 * loading bounded; rebuilding from the log gives the document as of any position.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { SqliteEventStore, domain, conversationStream } from '../../engine/index.js';
import { documentsProjection, docNames, loadDocument, rebuildDocument } from '../../sync/index.js';
import { tempDir } from '../helpers/temp-dir.js';

const C = '0b6f7c1e-7a4e-4a53-9f0e-2f1a4c7d9e01';
const M = '5d2c9b8a-1f3e-4c6d-8b7a-9e0f1a2b3c4d';
const b64 = (u: Uint8Array) => Buffer.from(u).toString('base64');

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup() {
  const dir = tempDir();
  const store = new SqliteEventStore({ file: join(dir.path, 'events.sqlite') });
  const db = new Database(join(dir.path, 'rm.sqlite'));
  cleanups.push(async () => {
    await store.close();
    db.close();
    dir.remove();
  });
  return { store, db };
}

/** Appends each local update of `doc` as the event sync would, returning the stored events. */
function recorder(store: SqliteEventStore, doc: Y.Doc, type: 'NotesUpdated' | 'MessageBodyEdited') {
  const pending: Promise<unknown>[] = [];
  doc.on('update', (update: Uint8Array) => {
    const text = doc.getText('text').toString();
    const data = type === 'NotesUpdated' ? { update: b64(update), text } : { messageId: M, update: b64(update), text };
    pending.push(store.append(conversationStream(C), domain.toNewEvents([{ type, data }], { actor: 'alice', commandId: 'x' }), { expectedVersion: 'any' }));
  });
  return () => Promise.all(pending);
}

describe('sync: document log', () => {
  it('snapshots every N updates: loading reads one snapshot and fewer than N updates', async () => {
    const { store, db } = await setup();
    const projection = documentsProjection({ snapshotEvery: 25 });
    projection.setup(db);
    const doc = new Y.Doc();
    const done = recorder(store, doc, 'NotesUpdated');
    for (let i = 0; i < 260; i++) doc.getText('text').insert(i % 7, String.fromCharCode(97 + (i % 26)));
    for (let i = 0; i < 30; i++) doc.getText('text').delete(i, 1);
    await done();
    const events = await store.readAll(0, 10_000);
    // Feed them in uneven batches, as the runner would.
    for (let i = 0; i < events.length; i += 13) db.transaction(() => projection.handle(events.slice(i, i + 13), db))();

    const loaded = await loadDocument(db, store, docNames.notes(C));
    expect(loaded.fromSnapshot).toBe(true);
    expect(loaded.updatesApplied).toBeLessThan(25);
    expect(loaded.position).toBe(events.at(-1)!.position);
    expect(loaded.doc.getText('text').toString()).toBe(doc.getText('text').toString());
    const rows = db.prepare('SELECT count(*) FROM sync_doc_updates').pluck().get() as number;
    expect(rows).toBeLessThan(25);

    // Truncate and replay: the same document.
    projection.truncate(db);
    db.transaction(() => projection.handle(events, db))();
    expect((await loadDocument(db, store, docNames.notes(C))).doc.getText('text').toString()).toBe(doc.getText('text').toString());
  });

  it('rebuilds a message body at every position of its history, starting from the post', async () => {
    const { store } = await setup();
    await store.append(
      conversationStream(C),
      domain.toNewEvents([{ type: 'MessagePosted', data: { messageId: M, author: 'alice', text: 'hello' } }], { actor: 'alice', commandId: 'p' }),
      { expectedVersion: 'any' },
    );
    const name = docNames.messageBody(C, M);
    const doc = await rebuildDocument(store, name);
    expect(doc.getText('text').toString()).toBe('hello');
    const done = recorder(store, doc, 'MessageBodyEdited');
    const texts: string[] = [];
    for (const [at, s] of [[5, ' world'], [0, '>> '], [3, 'HI ']] as const) {
      doc.getText('text').insert(at, s);
      texts.push(doc.getText('text').toString());
    }
    await done();
    const edits = (await store.readStream(conversationStream(C))).filter((e) => e.type === 'MessageBodyEdited');
    expect(edits.map((e) => (e.data as { text: string }).text)).toEqual(texts);
    for (const [i, e] of edits.entries()) {
      expect((await rebuildDocument(store, name, { position: e.position })).getText('text').toString()).toBe(texts[i]);
    }
    // Snapshots of a body hold edits that build on the seed; loading adds the seed back.
    const { db } = await setup();
    const projection = documentsProjection({ snapshotEvery: 2 });
    projection.setup(db);
    const all = await store.readAll(0, 1000);
    db.transaction(() => projection.handle(all, db))();
    const loaded = await loadDocument(db, store, name);
    expect(loaded.fromSnapshot).toBe(true);
    expect(loaded.doc.getText('text').toString()).toBe(texts.at(-1));

    // A second device that seeds from the post alone merges without duplicating it.
    const other = await rebuildDocument(store, name, { position: edits[0]!.position - 1 });
    other.getText('text').insert(0, '!');
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(other));
    const merged = doc.getText('text').toString();
    expect(merged.replace('!', '')).toBe(texts.at(-1));
    expect(merged.match(/hello/g)).toHaveLength(1);
  });
});
