/**
 * Full-text search over message history (SQLite FTS5). Deleted messages leave the index;
 * edited bodies (Yjs) replace their text. Searches only cover conversations the searcher
 * is a member of now (membership from the conversation-list read model).
 */
import type Database from 'better-sqlite3';
import { toWellFormed } from '../engine/domain/index.js';
import { conversationIdOf } from '../engine/store/index.js';
import type { Projection } from './projection.js';
import { prepared } from './prepared.js';

export const search: Projection = {
  name: 'search',
  version: 1,
  handles: ['MessagePosted', 'MessageDeleted', 'MessageBodyEdited'],
  setup(db) {
    db.exec(`CREATE VIRTUAL TABLE IF NOT EXISTS search_messages USING fts5(
      text, conversation_id UNINDEXED, seq UNINDEXED, message_id UNINDEXED, author UNINDEXED, at UNINDEXED,
      tokenize = 'unicode61 remove_diacritics 2')`);
  },
  handle(events, db) {
    const remove = prepared(db, 'DELETE FROM search_messages WHERE message_id = ?');
    for (const e of events) {
      const conversationId = conversationIdOf(e.stream);
      if (!conversationId) continue;
      if (e.type === 'MessagePosted') {
        prepared(db, 'INSERT INTO search_messages VALUES (?, ?, ?, ?, ?, ?)').run(
          e.data.text,
          conversationId,
          e.seq,
          e.data.messageId,
          e.data.author,
          e.metadata.at,
        );
      } else if (e.type === 'MessageDeleted') {
        remove.run(e.data.messageId);
      } else if (e.type === 'MessageBodyEdited' && typeof e.data.text === 'string') {
        prepared(db, 'UPDATE search_messages SET text = ? WHERE message_id = ?').run(e.data.text, e.data.messageId);
      }
    }
  },
  truncate(db) {
    db.exec('DELETE FROM search_messages');
  },
};

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
    `SELECT conversation_id, seq, message_id, author, at, snippet(search_messages, 0, '[', ']', '…', 12) AS snippet
     FROM search_messages
     WHERE search_messages MATCH ?
       AND conversation_id IN (SELECT conversation_id FROM members WHERE user_id = ?)
       AND (? IS NULL OR conversation_id = ?)
     ORDER BY at DESC LIMIT ?`,
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
