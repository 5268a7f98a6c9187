/**
 * Full-text search over message history (SQLite FTS5). Deleted messages leave the index;
 * edited bodies (Yjs) replace their text. Searches only cover conversations the searcher
 * is a member of now (membership from the conversation-list read model).
 *
 * Rows are keyed so a delete or an edit is an indexed lookup, never a scan: messages live
 * in an ordinary table (`search_docs`, unique on message id, its row id the position of
 * the MessagePosted event) and the FTS5 index is an external-content table over it, kept
 * current by triggers on delete and edit, and on insert by `handle` itself (v5): an
 * AFTER INSERT trigger made each post's full-text insert ~3× dearer (14 µs against 5 µs
 * per post in isolation, 100 posts per transaction), most of search's cost per post.
 * An FTS5 table cannot index an UNINDEXED column, so v1, which kept the message id inside
 * the FTS table, scanned every row per delete (71 ms at 300k messages, most of a rebuild). A bulk load drops the triggers and `setup` then builds the
 * whole index from `search_docs` in one go ('rebuild'), which it also does whenever it
 * finds the triggers missing (a bulk load cut short).
 *
 * Retention sweeps delete by (conversation, seq), but only conversations that have had a
 * retention period need that index (v5): rows carry `expires` (1 in a conversation listed
 * in `search_retained`) and the index is partial on it. Kept for every row, it was one more
 * per-conversation leaf dirtied per batch (~2.3 KiB of WAL and ~8 µs of CPU per post in
 * `bench/read-model-pages.ts`'s live batches) for a lookup most conversations never make.
 */
import type Database from 'better-sqlite3';
import { toWellFormed } from '../engine/domain/index.js';
import { conversationIdOf } from '../engine/store/index.js';
import { defineProjection } from './projection.js';
import { prepared } from './prepared.js';
import { endBulkLoad, messageRows, startBulkLoad, type MessageTable } from './message-rows.js';

/** Present while the index is kept current (a bulk load drops them and `setup` rebuilds the index). */
const TRIGGERS = ['search_docs_unindexed', 'search_docs_reindexed'];
const ROWS: MessageTable = {
  table: 'search_docs',
  index: 'search_docs_by_message_id',
  createIndex: 'CREATE UNIQUE INDEX IF NOT EXISTS search_docs_by_message_id ON search_docs (message_id)',
};

export const search = defineProjection({
  name: 'search',
  source: { module: import.meta.url, export: 'search' },
  // 2: external-content FTS5 over search_docs, deletes by row id. 3: the message-id
  // index is a named one, so a rebuild can build it after the load too. 4: erased and
  // expired messages (retention) leave the index like deleted ones. 5: the (conversation,
  // seq) index only over rows of conversations that have had a retention period; posts
  // indexed by handle, not by a trigger.
  version: 5,
  handles: ['MessagePosted', 'MessageDeleted', 'MessageBodyEdited', 'MessageErased', 'MessagesExpired', 'RetentionSet'],
  setup(db) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS search_docs (
        id INTEGER PRIMARY KEY, message_id TEXT, conversation_id TEXT, seq INTEGER, author TEXT, at INTEGER, text TEXT,
        expires INTEGER NOT NULL DEFAULT 0);
      -- Conversations that have had a retention period: their rows (all of them) have expires = 1.
      CREATE TABLE IF NOT EXISTS search_retained (conversation_id TEXT PRIMARY KEY) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS search_docs_expiring ON search_docs (conversation_id, seq) WHERE expires = 1;
      CREATE VIRTUAL TABLE IF NOT EXISTS search_messages USING fts5(
        text, content = 'search_docs', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2');`);
    const healing = db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name IN (?, ?)").pluck().get(...TRIGGERS) !== TRIGGERS.length;
    // An external-content index must be told the old text to forget a row, so the triggers pass it.
    // (v4's insert trigger goes with v4's tables; dropped here too, as it would index each post twice.)
    db.exec(`
      DROP TRIGGER IF EXISTS search_docs_indexed;
      CREATE TRIGGER IF NOT EXISTS search_docs_unindexed AFTER DELETE ON search_docs BEGIN
        INSERT INTO search_messages (search_messages, rowid, text) VALUES ('delete', old.id, old.text);
      END;
      CREATE TRIGGER IF NOT EXISTS search_docs_reindexed AFTER UPDATE OF text ON search_docs BEGIN
        INSERT INTO search_messages (search_messages, rowid, text) VALUES ('delete', old.id, old.text);
        INSERT INTO search_messages (rowid, text) VALUES (new.id, new.text);
      END;`);
    if (healing) db.exec("INSERT INTO search_messages (search_messages) VALUES ('rebuild')");
    endBulkLoad(db, ROWS);
  },
  handle(events, db) {
    const rows = messageRows(db, ROWS);
    // Not during a bulk load (triggers dropped): setup builds the whole index after it.
    const indexing = prepared(db, "SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = ?").get(TRIGGERS[0]) !== undefined;
    const index = prepared(db, 'INSERT INTO search_messages (rowid, text) VALUES (?, ?)');
    const insert = prepared(
      db,
      'INSERT OR IGNORE INTO search_docs (id, message_id, conversation_id, seq, author, at, text, expires) VALUES (?, ?, ?, ?, ?, ?, ?, EXISTS (SELECT 1 FROM search_retained WHERE conversation_id = ?))',
    );
    const remove = prepared(db, 'DELETE FROM search_docs WHERE id = ?');
    const edit = prepared(db, 'UPDATE search_docs SET text = ? WHERE id = ?');
    const retained = prepared(db, 'SELECT 1 FROM search_retained WHERE conversation_id = ?');
    const retain = prepared(db, 'INSERT OR IGNORE INTO search_retained VALUES (?)');
    // Once per conversation ever: a scan, as the conversation has no index of its own rows yet.
    const markExpiring = prepared(db, 'UPDATE search_docs SET expires = 1 WHERE conversation_id = ?');
    const expire = prepared(db, 'DELETE FROM search_docs WHERE conversation_id = ? AND seq <= ? AND expires = 1');
    // A conversation search never saw a retention period for (its RetentionSet skipped by an operator): a scan.
    const expireUnindexed = prepared(db, 'DELETE FROM search_docs WHERE conversation_id = ? AND seq <= ?');
    for (const e of events) {
      const conversationId = conversationIdOf(e.stream);
      if (!conversationId) continue;
      if (e.type === 'MessagePosted') {
        // Redacted in the log already (a rebuild after an erasure): nothing to find.
        if (e.data.redacted || !rows.mayInsert(e.data.messageId)) continue;
        const { changes } = insert.run(e.position, e.data.messageId, conversationId, e.seq, e.data.author, e.metadata.at, e.data.text, conversationId);
        if (changes === 0) continue;
        rows.inserted(e.data.messageId, e.position);
        if (indexing) index.run(e.position, e.data.text);
      } else if (e.type === 'MessageDeleted' || e.type === 'MessageErased') {
        remove.run(rows.find(e.data.messageId));
      } else if (e.type === 'MessagesExpired') {
        (retained.get(conversationId) ? expire : expireUnindexed).run(conversationId, e.data.throughSeq);
      } else if (e.type === 'RetentionSet') {
        if (e.data.periodSeconds !== null && retain.run(conversationId).changes > 0) markExpiring.run(conversationId);
      } else if (e.type === 'MessageBodyEdited' && typeof e.data.text === 'string' && !e.data.redacted) {
        edit.run(e.data.text, rows.find(e.data.messageId));
      }
    }
  },
  truncate(db) {
    // Dropping is faster than deleting row by row through the triggers, and setup makes it anew.
    search.drop!(db);
    search.setup(db);
  },
  drop(db) {
    // v1's search_messages was a plain FTS5 table of the same name.
    db.exec('DROP TABLE IF EXISTS search_messages; DROP TABLE IF EXISTS search_docs; DROP TABLE IF EXISTS search_retained;');
  },
  beforeBulkLoad(db) {
    for (const name of TRIGGERS) db.exec(`DROP TRIGGER IF EXISTS ${name}`);
    // Expiry's index, built sorted in setup after the load (kept current row by row it cost
    // more than the rows); an expiry during the load scans, as list_messages' does.
    db.exec('DROP INDEX IF EXISTS search_docs_expiring');
    startBulkLoad(db, ROWS);
  },
});

export interface SearchHit {
  conversationId: string;
  seq: number;
  messageId: string;
  author: string;
  sentAt: string;
  /** The text with matches wrapped in [ and ]. */
  snippet: string;
}

/**
 * Messages matching every word of `query` (the last word as a prefix), newest first.
 * User input never reaches FTS5's query syntax: each word is quoted, and control
 * characters separate words instead of entering the query (FTS5 ends a query string at
 * a NUL: `"a\0b"` failed as an unterminated string).
 */
export function searchMessages(
  db: Database.Database,
  userId: string,
  query: string,
  options: { conversationId?: string; limit?: number } = {},
): SearchHit[] {
  const words = queryWords(query);
  if (words.length === 0) return [];
  const match = words.map((w, i) => `"${w.replaceAll('"', '""')}"${i === words.length - 1 ? '*' : ''}`).join(' ');
  const conv = options.conversationId ?? null;
  const rows = prepared(
    db,
    `SELECT d.conversation_id, d.seq, d.message_id, d.author, d.at, snippet(search_messages, 0, '[', ']', '…', 12) AS snippet
     FROM search_messages JOIN search_docs d ON d.id = search_messages.rowid
     WHERE search_messages MATCH ?
       AND d.conversation_id IN (SELECT conversation_id FROM members WHERE user_id = ?)
       AND (? IS NULL OR d.conversation_id = ?)
     ORDER BY d.at DESC, d.id DESC LIMIT ?`,
  ).all(match, userId, conv, conv, options.limit ?? 50) as Array<{
    conversation_id: string;
    seq: number;
    message_id: string;
    author: string;
    at: number;
    snippet: string;
  }>;
  return rows.map((r) => ({
    conversationId: r.conversation_id,
    seq: r.seq,
    messageId: r.message_id,
    author: r.author,
    sentAt: new Date(r.at).toISOString(),
    snippet: r.snippet,
  }));
}

// C0 and C1 controls and DEL; none is a character anyone searches for.
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g;

/** The words of a query: well-formed text (as messages are stored), split at spaces and controls, at most 16. */
function queryWords(query: string): string[] {
  return toWellFormed(query).replace(CONTROLS, ' ').split(/\s+/).filter(Boolean).slice(0, 16);
}
