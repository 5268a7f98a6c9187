/**
 * Conversation list: per user, the conversations they are a member of, with the last
 * message and how many messages by others they have not read yet.
 */
import type Database from 'better-sqlite3';
import { conversationIdOf } from '../engine/store/index.js';
import type { ConversationSummary } from '../protocol/index.js';
import { defineProjection } from './projection.js';
import { prepared } from './prepared.js';
import { endBulkLoad, messageRows, startBulkLoad, type MessageTable } from './message-rows.js';

const ROWS: MessageTable = {
  table: 'list_messages',
  index: 'list_messages_by_message_id',
  createIndex: 'CREATE UNIQUE INDEX IF NOT EXISTS list_messages_by_message_id ON list_messages (message_id)',
};

export const conversationList = defineProjection({
  name: 'conversation-list',
  source: { module: import.meta.url, export: 'conversationList' },
  // 3: live messages in log order (row id = the post's position) with their indexes built
  // after a rebuild's load, instead of a tree clustered by conversation and kept current
  // insert by insert (most of a rebuild's time). 4: the retention period; erased and
  // expired messages (retention) lose their text.
  version: 4,
  // Membership: routes authorize with it, so it is never read with a removal missing.
  accessRevokedBy: ['MemberLeft'],
  handles: [
    'MessageBodyEdited',
    'ConversationCreated',
    'MemberJoined',
    'MemberLeft',
    'MessagePosted',
    'MessageDeleted',
    'ReactionAdded',
    'ReactionRemoved',
    'ReadMarkerSet',
    'RetentionSet',
    'MessageErased',
    'MessagesExpired',
  ],
  setup(db) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS conversations (
        id TEXT PRIMARY KEY, title TEXT NOT NULL, created_by TEXT NOT NULL, created_at INTEGER NOT NULL,
        last_seq INTEGER NOT NULL, last_at INTEGER NOT NULL, retention_seconds INTEGER
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS members (
        conversation_id TEXT NOT NULL, user_id TEXT NOT NULL, read_seq INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (conversation_id, user_id)
      ) WITHOUT ROWID;
      -- Readers only (conversations of a user); a bulk load drops it and setup builds it after.
      CREATE INDEX IF NOT EXISTS members_by_user ON members (user_id);
      -- Live (not deleted) messages, enough to count unread and show the last one.
      CREATE TABLE IF NOT EXISTS list_messages (
        position INTEGER PRIMARY KEY, conversation_id TEXT NOT NULL, seq INTEGER NOT NULL, message_id TEXT NOT NULL,
        author TEXT NOT NULL, text TEXT NOT NULL, sent_at INTEGER NOT NULL
      );
      -- Unread counts read this index alone (author included); the last message starts here.
      CREATE INDEX IF NOT EXISTS list_messages_by_seq ON list_messages (conversation_id, seq, author);
    `);
    endBulkLoad(db, ROWS);
  },
  handle(events, db) {
    const create = prepared(db, 'INSERT OR IGNORE INTO conversations (id, title, created_by, created_at, last_seq, last_at) VALUES (?, ?, ?, ?, 0, 0)');
    const leave = prepared(db, 'DELETE FROM members WHERE conversation_id = ? AND user_id = ?');
    const rows = messageRows(db, ROWS);
    const post = prepared(db, 'INSERT OR IGNORE INTO list_messages VALUES (?, ?, ?, ?, ?, ?, ?)');
    const remove = prepared(db, 'DELETE FROM list_messages WHERE position = ?');
    const edit = prepared(db, 'UPDATE list_messages SET text = ? WHERE position = ?');
    const read = prepared(db, 'UPDATE members SET read_seq = max(read_seq, ?) WHERE conversation_id = ? AND user_id = ?');
    const bump = prepared(db, 'UPDATE conversations SET last_seq = ?, last_at = ? WHERE id = ?');
    const retention = prepared(db, 'UPDATE conversations SET retention_seconds = ? WHERE id = ?');
    const erase = prepared(db, "UPDATE list_messages SET text = '' WHERE position = ?");
    const expire = prepared(db, "UPDATE list_messages SET text = '' WHERE conversation_id = ? AND seq <= ?");
    // Each conversation's last event of the batch: one update per conversation, not per event.
    const last = new Map<string, { seq: number; at: number }>();
    for (const e of events) {
      const id = conversationIdOf(e.stream);
      if (!id) continue;
      switch (e.type) {
        case 'ConversationCreated':
          create.run(id, e.data.title, e.data.createdBy, e.metadata.at);
          for (const m of e.data.members as string[]) addMember(db, id, m);
          break;
        case 'MemberJoined':
          addMember(db, id, e.data.userId);
          break;
        case 'MemberLeft':
          leave.run(id, e.data.userId);
          break;
        case 'MessagePosted':
          // A thread reply is neither the last message nor unread here: threads count their own.
          if (e.data.threadRootId === undefined && rows.mayInsert(e.data.messageId) && post.run(e.position, id, e.seq, e.data.messageId, e.data.author, e.data.text, e.metadata.at).changes > 0) {
            rows.inserted(e.data.messageId, e.position);
          }
          break;
        case 'MessageDeleted':
          remove.run(rows.find(e.data.messageId));
          break;
        case 'MessageBodyEdited':
          edit.run(e.data.text, rows.find(e.data.messageId));
          break;
        case 'ReadMarkerSet':
          read.run(e.data.seq, id, e.data.userId);
          break;
        case 'RetentionSet':
          retention.run(e.data.periodSeconds, id);
          break;
        case 'MessageErased':
          erase.run(rows.find(e.data.messageId));
          break;
        case 'MessagesExpired':
          expire.run(id, e.data.throughSeq);
          break;
      }
      // A sweep or an erasure is no news: it does not bring the conversation to the top.
      if (e.type === 'MessagesExpired' || e.type === 'MessageErased') continue;
      last.set(id, { seq: e.seq, at: e.metadata.at });
    }
    for (const [id, { seq, at }] of last) bump.run(seq, at, id);
  },
  truncate(db) {
    db.exec('DELETE FROM conversations; DELETE FROM members; DELETE FROM list_messages;');
  },
  drop(db) {
    // v2's list_messages was WITHOUT ROWID, clustered by (conversation, seq).
    db.exec('DROP TABLE IF EXISTS list_messages; DROP TABLE IF EXISTS members; DROP TABLE IF EXISTS conversations;');
  },
  beforeBulkLoad(db) {
    db.exec('DROP INDEX IF EXISTS members_by_user; DROP INDEX IF EXISTS list_messages_by_seq');
    startBulkLoad(db, ROWS);
  },
});

function addMember(db: Database.Database, conversationId: string, userId: string): void {
  prepared(db, 'INSERT OR IGNORE INTO members (conversation_id, user_id) VALUES (?, ?)').run(conversationId, userId);
}

export function isMember(db: Database.Database, conversationId: string, userId: string): boolean {
  return prepared(db, 'SELECT 1 FROM members WHERE conversation_id = ? AND user_id = ?').get(conversationId, userId) !== undefined;
}

export function membersOf(db: Database.Database, conversationId: string): string[] {
  return prepared(db, 'SELECT user_id FROM members WHERE conversation_id = ? ORDER BY user_id')
    .pluck()
    .all(conversationId) as string[];
}

/** Conversations with a retention period, by id after `after`, at most `limit` (the retention sweep's rounds). */
export function conversationsWithRetention(db: Database.Database, after: string, limit: number): string[] {
  return prepared(db, 'SELECT id FROM conversations WHERE retention_seconds IS NOT NULL AND id > ? ORDER BY id LIMIT ?').pluck().all(after, limit) as string[];
}

/** Conversation ids the user is a member of. */
export function conversationIdsOf(db: Database.Database, userId: string): string[] {
  return prepared(db, 'SELECT conversation_id FROM members WHERE user_id = ?').pluck().all(userId) as string[];
}

export function conversationsOf(db: Database.Database, userId: string): ConversationSummary[] {
  const rows = prepared(
    db,
    `SELECT c.id, c.title, c.created_by, c.created_at, c.last_seq, c.retention_seconds, m.read_seq,
       (SELECT count(*) FROM list_messages l
         WHERE l.conversation_id = c.id AND l.seq > m.read_seq AND l.author != m.user_id) AS unread
     FROM members m JOIN conversations c ON c.id = m.conversation_id
     WHERE m.user_id = ?
     ORDER BY c.last_at DESC, c.id`,
  ).all(userId) as Array<{
    id: string;
    title: string;
    created_by: string;
    created_at: number;
    last_seq: number;
    retention_seconds: number | null;
    read_seq: number;
    unread: number;
  }>;
  const last = prepared(db, 'SELECT * FROM list_messages WHERE conversation_id = ? ORDER BY seq DESC LIMIT 1');
  return rows.map((r) => {
    const m = last.get(r.id) as
      | { seq: number; message_id: string; author: string; text: string; sent_at: number }
      | undefined;
    return {
      id: r.id,
      title: r.title,
      createdBy: r.created_by,
      createdAt: new Date(r.created_at).toISOString(),
      members: membersOf(db, r.id),
      lastSeq: r.last_seq,
      lastMessage: m
        ? { seq: m.seq, messageId: m.message_id, author: m.author, text: m.text, sentAt: new Date(m.sent_at).toISOString() }
        : null,
      readSeq: r.read_seq,
      unread: r.unread,
      retentionSeconds: r.retention_seconds,
    };
  });
}
