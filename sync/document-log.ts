/**
 * Documents out of the log.
 *
 * - `documentsProjection` keeps, per document, the newest snapshot (the merged state as of
 *   a log position) and the updates after it. Every `snapshotEvery` updates it folds them
 *   into a new snapshot, so loading a document reads one snapshot and fewer than
 *   `snapshotEvery` updates, however long its history. The tables are a cache of the log:
 *   truncating them and replaying the log rebuilds them.
 * - `loadDocument` builds the current document from those tables.
 * - `rebuildDocument` replays the log itself, up to a position or a time: a document as
 *   it was at any point of its history.
 *
 * A message body starts with the seed of its `MessagePosted` (see events.ts). The read
 * model only remembers where each post is (one small row per message); loading reads
 * the post from the log and makes the seed then, so posting a message stays cheap.
 */
import type Database from 'better-sqlite3';
import * as Y from 'yjs';
import type { EventStore, Projection, StoredEvent } from './engine-types.js';
import { conversationIdOf as conversationIdOfStream, conversationStream, userStream } from '../engine/store/index.js';
import { docNames, parseDocName, type DocRef } from '../protocol/index.js';
import { CONTENT_EVENT_TYPES, docNameOfEvent, updateOf } from './events.js';

export interface DocumentsProjectionOptions {
  /** Fold updates into a snapshot once a document has this many (default 100). */
  snapshotEvery?: number;
}

export function documentsProjection(options: DocumentsProjectionOptions = {}): Projection {
  const snapshotEvery = Math.max(1, options.snapshotEvery ?? 100);
  return {
    name: 'sync-documents',
    source: { module: import.meta.url, export: 'documentsProjection', args: [{ snapshotEvery }] },
    // 2: erased and expired message bodies (retention) lose their stored updates.
    version: 2,
    handles: [...CONTENT_EVENT_TYPES, 'MessageErased', 'MessagesExpired'],
    setup(db) {
      db.exec(`CREATE TABLE IF NOT EXISTS sync_doc_snapshots (
        doc TEXT PRIMARY KEY, position INTEGER NOT NULL, state BLOB NOT NULL
      ) WITHOUT ROWID`);
      db.exec(`CREATE TABLE IF NOT EXISTS sync_message_posts (
        doc TEXT PRIMARY KEY, seq INTEGER NOT NULL
      ) WITHOUT ROWID`);
      db.exec(`CREATE TABLE IF NOT EXISTS sync_doc_updates (
        doc TEXT NOT NULL, position INTEGER NOT NULL, update_bytes BLOB NOT NULL,
        PRIMARY KEY (doc, position)
      ) WITHOUT ROWID`);
    },
    handle(events, db) {
      const insert = prepared(db, 'INSERT OR IGNORE INTO sync_doc_updates (doc, position, update_bytes) VALUES (?, ?, ?)');
      const post = prepared(db, 'INSERT OR IGNORE INTO sync_message_posts (doc, seq) VALUES (?, ?)');
      const count = prepared(db, 'SELECT count(*) FROM sync_doc_updates WHERE doc = ?').pluck();
      const touched = new Set<string>();
      for (const e of events) {
        if (e.type === 'MessageErased' || e.type === 'MessagesExpired') {
          forgetErased(db, e);
          continue;
        }
        const doc = docNameOfEvent(e);
        if (!doc) continue;
        // A post is only pointed at (its seed is made at load): posting stays cheap.
        if (e.type === 'MessagePosted') post.run(doc, e.seq);
        // A redacted update (rewritten in the log by an erasure) has no bytes to keep.
        else if (!(e.data as { redacted?: boolean }).redacted) {
          insert.run(doc, e.position, updateOf(e));
          touched.add(doc);
        }
      }
      for (const doc of touched) if ((count.get(doc) as number) >= snapshotEvery) compact(db, doc);
    },
    truncate(db) {
      db.exec('DELETE FROM sync_doc_snapshots; DELETE FROM sync_doc_updates; DELETE FROM sync_message_posts');
    },
  };
}

/**
 * An erased message's body, or every body a MessagesExpired covers, is served no more:
 * its stored updates and snapshot go (the post's row stays, so later events find it).
 */
function forgetErased(db: Database.Database, e: StoredEvent): void {
  const conversationId = conversationIdOfStream(e.stream);
  if (conversationId === undefined) return;
  const data = e.data as { messageId?: string; throughSeq?: number };
  const docs =
    e.type === 'MessageErased'
      ? [docNames.messageBody(conversationId, String(data.messageId))]
      : (prepared(db, 'SELECT doc FROM sync_message_posts WHERE substr(doc, 1, ?) = ? AND seq <= ?')
          .pluck()
          .all(docNames.messageBody(conversationId, '').length, docNames.messageBody(conversationId, ''), Number(data.throughSeq)) as string[]);
  for (const doc of docs) {
    prepared(db, 'DELETE FROM sync_doc_updates WHERE doc = ?').run(doc);
    prepared(db, 'DELETE FROM sync_doc_snapshots WHERE doc = ?').run(doc);
  }
}

/** Folds a document's updates into its snapshot and drops them from the table. */
function compact(db: Database.Database, name: string): void {
  // Without a message's seed, edits that build on it stay pending in the doc; the encoded
  // state keeps pending updates, so the snapshot loses nothing.
  const { doc, position } = loadStoredState(db, name);
  prepared(db, 'INSERT OR REPLACE INTO sync_doc_snapshots (doc, position, state) VALUES (?, ?, ?)').run(
    name,
    position,
    Y.encodeStateAsUpdate(doc),
  );
  prepared(db, 'DELETE FROM sync_doc_updates WHERE doc = ? AND position <= ?').run(name, position);
  doc.destroy();
}

export interface LoadedDocument {
  doc: Y.Doc;
  /** The log position of the newest update included (0 for an empty document). */
  position: number;
  /** How many stored updates were applied on top of the snapshot (bounded by snapshotEvery). */
  updatesApplied: number;
  fromSnapshot: boolean;
}

/**
 * The document as of the read model: its snapshot plus the updates after it, and for a
 * message body the seed of its post, read from the log (one event).
 */
export async function loadDocument(db: Database.Database, store: EventStore, name: string): Promise<LoadedDocument> {
  const ref = parseDocName(name);
  const seq = ref?.kind === 'message' ? (prepared(db, 'SELECT seq FROM sync_message_posts WHERE doc = ?').pluck().get(name) as number | undefined) : undefined;
  const posted = seq === undefined ? [] : await store.readStream(streamOf(ref!), { afterSeq: seq - 1, limit: 1 });
  // Read after the post: compaction may run meanwhile, and the seed merges either way.
  const loaded = loadStoredState(db, name);
  for (const e of posted) if (docNameOfEvent(e) === name) Y.applyUpdate(loaded.doc, updateOf(e));
  return loaded;
}

function loadStoredState(db: Database.Database, name: string): LoadedDocument {
  const doc = new Y.Doc({ gc: true });
  const snapshot = prepared(db, 'SELECT position, state FROM sync_doc_snapshots WHERE doc = ?').get(name) as
    | { position: number; state: Buffer }
    | undefined;
  let position = 0;
  if (snapshot) {
    Y.applyUpdate(doc, snapshot.state);
    position = snapshot.position;
  }
  const rows = prepared(db, 'SELECT position, update_bytes FROM sync_doc_updates WHERE doc = ? AND position > ? ORDER BY position')
    .all(name, position) as Array<{ position: number; update_bytes: Buffer }>;
  if (rows.length > 0) {
    Y.applyUpdate(doc, Y.mergeUpdates(rows.map((r) => new Uint8Array(r.update_bytes))));
    position = rows[rows.length - 1]!.position;
  }
  return { doc, position, updatesApplied: rows.length, fromSnapshot: snapshot !== undefined };
}

export interface AsOf {
  /** Include updates at log positions up to and including this one. */
  position?: number;
  /** Include updates appended at or before this time (ms since the epoch). */
  at?: number;
}

/**
 * The document `name` as it was at a point of its history, replayed from the log alone
 * (no read model): every update event of the document up to `asOf`, in log order.
 */
export async function rebuildDocument(store: EventStore, name: string, asOf: AsOf = {}): Promise<Y.Doc> {
  const ref = parseDocName(name);
  if (!ref) throw new Error(`Not a document name: ${name}`);
  const doc = new Y.Doc({ gc: true });
  const stream = streamOf(ref);
  const updates: Uint8Array[] = [];
  for (let after = 0; ; ) {
    const page = await store.readStream(stream, { afterSeq: after, limit: 1000 });
    for (const e of page) {
      if (asOf.position !== undefined && e.position > asOf.position) return finish();
      // Clocks of concurrent appends may interleave, so a time bound filters rather than stops.
      if (asOf.at !== undefined && e.metadata.at > asOf.at) continue;
      if (docNameOfEvent(e) === name && !(e.data as { redacted?: boolean }).redacted) updates.push(updateOf(e));
    }
    if (page.length < 1000) return finish();
    after = page[page.length - 1]!.seq;
  }
  function finish(): Y.Doc {
    if (updates.length > 0) Y.applyUpdate(doc, Y.mergeUpdates(updates));
    return doc;
  }
}

/** The stream a document's updates are appended to. */
export function streamOf(ref: DocRef): string {
  return ref.kind === 'draft' ? userStream(ref.userId) : conversationStream(ref.conversationId);
}

export type { StoredEvent };

const statements = new WeakMap<Database.Database, Map<string, Database.Statement>>();

/** A statement compiled once per database (loads and the projection run these often). */
function prepared(db: Database.Database, sql: string): Database.Statement {
  let byDb = statements.get(db);
  if (!byDb) statements.set(db, (byDb = new Map()));
  let stmt = byDb.get(sql);
  if (!stmt) byDb.set(sql, (stmt = db.prepare(sql)));
  return stmt;
}
