/**
 * Mentions: per user, the messages that mentioned them (the decider resolved `@userId`
 * against membership when the message was posted; the event's `mentions` says who), and
 * per user per conversation how far they marked their mentions read. A deleted message
 * leaves the feed; an edited body shows its new text (who it mentions stays as posted).
 */
import type Database from 'better-sqlite3';
import { conversationIdOf } from '../engine/store/index.js';
import type { Mention } from '../protocol/index.js';
import { defineProjection } from './projection.js';
import { prepared } from './prepared.js';

export const mentions = defineProjection({
  name: 'mentions',
  source: { module: import.meta.url, export: 'mentions' },
  // 2: erased and expired messages (retention) leave the feed like deleted ones.
  version: 2,
  handles: ['MessagePosted', 'MessageDeleted', 'MessageBodyEdited', 'MentionsReadMarkerSet', 'MessageErased', 'MessagesExpired'],
  setup(db) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS mentions (
        user_id TEXT NOT NULL, position INTEGER NOT NULL, conversation_id TEXT NOT NULL, seq INTEGER NOT NULL,
        message_id TEXT NOT NULL, author TEXT NOT NULL, text TEXT NOT NULL, sent_at INTEGER NOT NULL, thread_root_id TEXT,
        PRIMARY KEY (user_id, position)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS mentions_by_message_id ON mentions (message_id);
      CREATE INDEX IF NOT EXISTS mentions_by_seq ON mentions (conversation_id, seq);
      CREATE TABLE IF NOT EXISTS mention_reads (
        user_id TEXT NOT NULL, conversation_id TEXT NOT NULL, read_seq INTEGER NOT NULL,
        PRIMARY KEY (user_id, conversation_id)
      ) WITHOUT ROWID;
    `);
  },
  handle(events, db) {
    const insert = prepared(db, 'INSERT OR IGNORE INTO mentions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
    const remove = prepared(db, 'DELETE FROM mentions WHERE message_id = ? AND conversation_id = ?');
    const edit = prepared(db, 'UPDATE mentions SET text = ? WHERE message_id = ? AND conversation_id = ?');
    const expire = prepared(db, 'DELETE FROM mentions WHERE conversation_id = ? AND seq <= ?');
    const read = prepared(
      db,
      'INSERT INTO mention_reads VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET read_seq = max(read_seq, excluded.read_seq)',
    );
    for (const e of events) {
      const id = conversationIdOf(e.stream);
      if (!id) continue;
      switch (e.type) {
        case 'MessagePosted':
          for (const user of e.data.mentions ?? []) {
            insert.run(user, e.position, id, e.seq, e.data.messageId, e.data.author, e.data.text, e.metadata.at, e.data.threadRootId ?? null);
          }
          break;
        case 'MessageDeleted':
        case 'MessageErased':
          remove.run(e.data.messageId, id);
          break;
        case 'MessagesExpired':
          expire.run(id, e.data.throughSeq);
          break;
        case 'MessageBodyEdited':
          edit.run(e.data.text, e.data.messageId, id);
          break;
        case 'MentionsReadMarkerSet':
          read.run(e.data.userId, id, e.data.seq);
          break;
      }
    }
  },
  truncate(db) {
    db.exec('DELETE FROM mentions; DELETE FROM mention_reads;');
  },
  drop(db) {
    db.exec('DROP TABLE IF EXISTS mentions; DROP TABLE IF EXISTS mention_reads;');
  },
});

// Only conversations the user is still a member of (the conversation list's `members`).
const MEMBER = 'EXISTS (SELECT 1 FROM members m WHERE m.conversation_id = x.conversation_id AND m.user_id = x.user_id)';
const READ_SEQ = 'coalesce((SELECT r.read_seq FROM mention_reads r WHERE r.user_id = x.user_id AND r.conversation_id = x.conversation_id), 0)';

/** A page of `userId`'s mentions, newest first (before a feed position, if given), and how many are unread. */
export function mentionsOf(db: Database.Database, userId: string, page: { before?: number; limit: number }): { mentions: Mention[]; unread: number } {
  const rows = prepared(
    db,
    `SELECT x.*, x.seq <= ${READ_SEQ} AS is_read FROM mentions x
     WHERE x.user_id = ? AND x.position < ? AND ${MEMBER} ORDER BY x.position DESC LIMIT ?`,
  ).all(userId, page.before ?? Number.MAX_SAFE_INTEGER, page.limit) as Array<{
    position: number;
    conversation_id: string;
    seq: number;
    message_id: string;
    author: string;
    text: string;
    sent_at: number;
    thread_root_id: string | null;
    is_read: number;
  }>;
  return {
    mentions: rows.map((r) => ({
      position: r.position,
      conversationId: r.conversation_id,
      seq: r.seq,
      messageId: r.message_id,
      author: r.author,
      text: r.text,
      sentAt: new Date(r.sent_at).toISOString(),
      threadRootId: r.thread_root_id,
      read: r.is_read === 1,
    })),
    unread: unreadMentions(db, userId),
  };
}

export function unreadMentions(db: Database.Database, userId: string): number {
  return prepared(db, `SELECT count(*) FROM mentions x WHERE x.user_id = ? AND x.seq > ${READ_SEQ} AND ${MEMBER}`).pluck().get(userId) as number;
}
