/**
 * Threads: every thread reply by (conversation, root, seq) with its reactions, and per
 * user per thread whether they follow it and how far they read it.
 *
 * Replies live here, not in history or the conversation list (both skip them): the
 * conversation's pages and unread counts are the top level only, and a thread's unread
 * count is its own. The root's author and every replier follow on each reply unless
 * they unfollowed (a replier follows again by replying). Roots themselves are history's
 * rows; reads join them from there (thread-reads.ts).
 */
import { conversationIdOf } from '../engine/store/index.js';
import { defineProjection } from './projection.js';
import { prepared } from './prepared.js';
import { applyReaction } from './reactions.js';
import { endBulkLoad, messageRows, startBulkLoad, type MessageTable } from './message-rows.js';

const ROWS: MessageTable = {
  table: 'thread_replies',
  index: 'thread_replies_by_message_id',
  createIndex: 'CREATE UNIQUE INDEX IF NOT EXISTS thread_replies_by_message_id ON thread_replies (message_id)',
};

export const threads = defineProjection({
  name: 'threads',
  source: { module: import.meta.url, export: 'threads' },
  // 2: erased and expired replies (retention), marked redacted.
  version: 2,
  handles: [
    'MessagePosted',
    'MessageDeleted',
    'MessageBodyEdited',
    'MessageErased',
    'MessagesExpired',
    'ReactionAdded',
    'ReactionRemoved',
    'ThreadFollowed',
    'ThreadUnfollowed',
    'ThreadReadMarkerSet',
  ],
  setup(db) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS thread_replies (
        position INTEGER PRIMARY KEY, conversation_id TEXT NOT NULL, root_id TEXT NOT NULL, seq INTEGER NOT NULL,
        message_id TEXT NOT NULL, author TEXT NOT NULL, text TEXT NOT NULL, sent_at INTEGER NOT NULL,
        format TEXT NOT NULL DEFAULT 'plain', reactions TEXT NOT NULL DEFAULT '{}', deleted INTEGER NOT NULL DEFAULT 0,
        redacted INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX IF NOT EXISTS thread_replies_by_root ON thread_replies (conversation_id, root_id, seq);
      CREATE TABLE IF NOT EXISTS thread_follows (
        conversation_id TEXT NOT NULL, root_id TEXT NOT NULL, user_id TEXT NOT NULL,
        following INTEGER NOT NULL DEFAULT 0, read_seq INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (conversation_id, root_id, user_id)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS thread_follows_by_user ON thread_follows (user_id, following);
    `);
    endBulkLoad(db, ROWS);
  },
  handle(events, db) {
    const rows = messageRows(db, ROWS);
    const insert = prepared(
      db,
      'INSERT OR IGNORE INTO thread_replies (position, conversation_id, root_id, seq, message_id, author, text, sent_at, format, redacted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const erase = prepared(db, "UPDATE thread_replies SET redacted = 1, text = '' WHERE position = ?");
    const expire = prepared(db, "UPDATE thread_replies SET redacted = 1, text = '' WHERE conversation_id = ? AND seq <= ? AND redacted = 0");
    const remove = prepared(db, "UPDATE thread_replies SET deleted = 1, text = '', reactions = '{}' WHERE position = ?");
    const edit = prepared(db, 'UPDATE thread_replies SET text = ? WHERE position = ? AND deleted = 0 AND redacted = 0');
    const getReactions = prepared(db, 'SELECT reactions FROM thread_replies WHERE position = ?').pluck();
    const setReactions = prepared(db, 'UPDATE thread_replies SET reactions = ? WHERE position = ?');
    // Automatic follows never undo an unfollow; a reply (or Follow) by the user does.
    const autoFollow = prepared(db, 'INSERT OR IGNORE INTO thread_follows (conversation_id, root_id, user_id, following) VALUES (?, ?, ?, 1)');
    const follow = prepared(
      db,
      'INSERT INTO thread_follows (conversation_id, root_id, user_id, following) VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET following = excluded.following',
    );
    const read = prepared(
      db,
      'INSERT INTO thread_follows (conversation_id, root_id, user_id, read_seq) VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET read_seq = max(read_seq, excluded.read_seq)',
    );
    for (const e of events) {
      const id = conversationIdOf(e.stream);
      if (!id) continue;
      switch (e.type) {
        case 'MessagePosted': {
          const { threadRootId: root, threadRootAuthor } = e.data;
          if (root === undefined) break;
          if (rows.mayInsert(e.data.messageId)) {
            const { changes } = insert.run(e.position, id, root, e.seq, e.data.messageId, e.data.author, e.data.text, e.metadata.at, e.data.format ?? 'plain', e.data.redacted ? 1 : 0);
            if (changes > 0) rows.inserted(e.data.messageId, e.position);
          }
          if (threadRootAuthor !== undefined) autoFollow.run(id, root, threadRootAuthor);
          follow.run(id, root, e.data.author, 1);
          break;
        }
        case 'MessageDeleted':
          remove.run(rows.find(e.data.messageId));
          break;
        case 'MessageBodyEdited':
          edit.run(e.data.text, rows.find(e.data.messageId));
          break;
        case 'MessageErased':
          erase.run(rows.find(e.data.messageId));
          break;
        case 'MessagesExpired':
          expire.run(id, e.data.throughSeq);
          break;
        case 'ReactionAdded':
        case 'ReactionRemoved': {
          const row = rows.find(e.data.messageId);
          if (row === null) break;
          const raw = getReactions.get(row) as string | undefined;
          if (raw !== undefined) setReactions.run(applyReaction(raw, e), row);
          break;
        }
        case 'ThreadFollowed':
        case 'ThreadUnfollowed':
          follow.run(id, e.data.threadRootId, e.data.userId, e.type === 'ThreadFollowed' ? 1 : 0);
          break;
        case 'ThreadReadMarkerSet':
          read.run(id, e.data.threadRootId, e.data.userId, e.data.seq);
          break;
      }
    }
  },
  truncate(db) {
    db.exec('DELETE FROM thread_replies; DELETE FROM thread_follows;');
  },
  drop(db) {
    db.exec('DROP TABLE IF EXISTS thread_replies; DROP TABLE IF EXISTS thread_follows;');
  },
  beforeBulkLoad(db) {
    db.exec('DROP INDEX IF EXISTS thread_follows_by_user');
    startBulkLoad(db, ROWS);
  },
});

