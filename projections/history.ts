/**
 * History: every message of every conversation by seq, with its reactions and whether it
 * was deleted. Deleted messages keep their place (seq) but lose their text here; the log
 * keeps the original. A message body edited after posting (Yjs, sync/) shows the merged
 * plain text its newest `MessageBodyEdited` event carries; the message keeps its seq.
 * A message erased by its author or expired by retention keeps its row, marked redacted,
 * with no text: the log (rewritten on the embedded store) does not keep it either.
 */
import type Database from 'better-sqlite3';
import { conversationIdOf } from '../engine/store/index.js';
import type { HistoryMessage } from '../protocol/index.js';
import { defineProjection } from './projection.js';
import { withAttachments } from './attachments.js';
import { prepared } from './prepared.js';
import { applyReaction } from './reactions.js';
import { endBulkLoad, messageRows, startBulkLoad, type MessageTable } from './message-rows.js';

const ROWS: MessageTable = {
  table: 'messages',
  index: 'messages_by_message_id',
  createIndex: 'CREATE UNIQUE INDEX IF NOT EXISTS messages_by_message_id ON messages (message_id)',
};

/** A message as the history API serves it (the shared wire shape). */
export type MessageView = HistoryMessage;

interface MessageRow {
  seq: number;
  message_id: string;
  author: string;
  text: string;
  sent_at: number;
  format: string;
  reactions: string;
  deleted: number;
  redacted: number;
}

export const history = defineProjection({
  name: 'history',
  source: { module: import.meta.url, export: 'history' },
  // 2: shows edited message bodies (MessageBodyEdited). 4: rows in log order (row id = the
  // post's position), found by (conversation, seq) through an index a rebuild builds after.
  // 5: the message-id index is a named one, so a rebuild can build it after too.
  // 6: erased and expired messages (retention), marked redacted.
  version: 6,
  handles: ['MessagePosted', 'MessageDeleted', 'ReactionAdded', 'ReactionRemoved', 'MessageBodyEdited', 'MessageErased', 'MessagesExpired'],
  setup(db) {
    // Rows are appended in log order, not inserted all over a tree clustered by
    // conversation (v3, WITHOUT ROWID): a rebuild writes the table front to back.
    db.exec(`CREATE TABLE IF NOT EXISTS messages (
      position INTEGER PRIMARY KEY,
      conversation_id TEXT NOT NULL,
      seq INTEGER NOT NULL,
      message_id TEXT NOT NULL,
      author TEXT NOT NULL,
      text TEXT NOT NULL,
      sent_at INTEGER NOT NULL,
      format TEXT NOT NULL DEFAULT 'plain',
      reactions TEXT NOT NULL DEFAULT '{}',
      deleted INTEGER NOT NULL DEFAULT 0,
      redacted INTEGER NOT NULL DEFAULT 0
    );
    CREATE UNIQUE INDEX IF NOT EXISTS messages_by_seq ON messages (conversation_id, seq);`);
    endBulkLoad(db, ROWS);
  },
  handle(events, db) {
    const rows = messageRows(db, ROWS);
    const insert = prepared(
      db,
      'INSERT OR IGNORE INTO messages (position, conversation_id, seq, message_id, author, text, sent_at, format, redacted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const erase = prepared(db, "UPDATE messages SET redacted = 1, text = '' WHERE position = ?");
    const expire = prepared(db, "UPDATE messages SET redacted = 1, text = '' WHERE conversation_id = ? AND seq <= ? AND redacted = 0");
    const remove = prepared(db, "UPDATE messages SET deleted = 1, text = '', reactions = '{}' WHERE position = ?");
    const edit = prepared(db, 'UPDATE messages SET text = ? WHERE position = ? AND conversation_id = ? AND deleted = 0 AND redacted = 0');
    const getReactions = prepared(db, 'SELECT reactions FROM messages WHERE position = ?').pluck();
    const setReactions = prepared(db, 'UPDATE messages SET reactions = ? WHERE position = ?');
    for (const e of events) {
      const conversationId = conversationIdOf(e.stream);
      if (!conversationId) continue;
      switch (e.type) {
        case 'MessagePosted': {
          // Thread replies are the threads read model's (threads.ts), not the conversation's pages.
          if (e.data.threadRootId !== undefined || !rows.mayInsert(e.data.messageId)) break;
          const { changes } = insert.run(e.position, conversationId, e.seq, e.data.messageId, e.data.author, e.data.text, e.metadata.at, e.data.format ?? 'plain', e.data.redacted ? 1 : 0);
          if (changes > 0) rows.inserted(e.data.messageId, e.position);
          break;
        }
        case 'MessageDeleted':
          remove.run(rows.find(e.data.messageId));
          break;
        case 'MessageBodyEdited':
          // The event carries the merged text, so history never decodes Yjs.
          edit.run(e.data.text, rows.find(e.data.messageId), conversationId);
          break;
        case 'MessageErased':
          erase.run(rows.find(e.data.messageId));
          break;
        case 'MessagesExpired':
          expire.run(conversationId, e.data.throughSeq);
          break;
        case 'ReactionAdded':
        case 'ReactionRemoved': {
          const row = rows.find(e.data.messageId);
          const raw = getReactions.get(row) as string | undefined;
          if (raw === undefined) break;
          setReactions.run(applyReaction(raw, e), row);
          break;
        }
      }
    }
  },
  truncate(db) {
    db.exec('DELETE FROM messages');
  },
  drop(db) {
    db.exec('DROP TABLE IF EXISTS messages');
  },
  beforeBulkLoad(db) {
    // The log has one event per (stream, seq), so the load cannot break the unique index.
    db.exec('DROP INDEX IF EXISTS messages_by_seq');
    startBulkLoad(db, ROWS);
  },
});


/** Whether the message (a top-level one here, or a thread reply) was erased or expired. */
export function messageRedacted(db: Database.Database, conversationId: string, messageId: string): boolean {
  const row = prepared(
    db,
    `SELECT redacted FROM messages WHERE message_id = @m AND conversation_id = @c
     UNION ALL SELECT redacted FROM thread_replies WHERE message_id = @m AND conversation_id = @c LIMIT 1`,
  ).pluck().get({ m: messageId, c: conversationId }) as number | undefined;
  return row === 1;
}

/** Pages of a conversation's messages in seq order: after a seq (forwards) or before one (backwards). */
export function readMessages(
  db: Database.Database,
  conversationId: string,
  page: { after?: number; before?: number; limit: number },
): MessageView[] {
  const rows =
    page.before !== undefined
      ? (db
          .prepare('SELECT * FROM messages WHERE conversation_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?')
          .all(conversationId, page.before, page.limit) as MessageRow[]).reverse()
      : (db
          .prepare('SELECT * FROM messages WHERE conversation_id = ? AND seq > ? ORDER BY seq ASC LIMIT ?')
          .all(conversationId, page.after ?? 0, page.limit) as MessageRow[]);
  return withAttachments(db, conversationId, rows.map(toView));
}

function toView(r: MessageRow): MessageView {
  return {
    seq: r.seq,
    messageId: r.message_id,
    author: r.author,
    text: r.text,
    sentAt: new Date(r.sent_at).toISOString(),
    format: r.format as MessageView['format'],
    // JSON.parse makes own properties: a `__proto__` emoji stays a key, not a prototype.
    reactions: JSON.parse(r.reactions),
    deleted: r.deleted === 1,
    ...(r.redacted === 1 && { redacted: true as const }),
  };
}
