/**
 * Reads of the threads read model (threads.ts): a thread's page of replies, the reply
 * summary shown on root messages, and a user's followed threads. Roots are history's rows
 * (the `messages` table), joined here at read time; followed threads of conversations the
 * user left are not listed (the conversation list's `members`).
 */
import type Database from 'better-sqlite3';
import type { HistoryMessage, ThreadListEntry } from '../protocol/index.js';
import { prepared } from './prepared.js';

interface ReplyRow {
  seq: number;
  message_id: string;
  author: string;
  text: string;
  sent_at: number;
  format: string;
  reactions: string;
  deleted: number;
  /** Absent on rows of older read models. */
  redacted?: number;
  root_id?: string;
}

type ThreadSummary = NonNullable<HistoryMessage['thread']>;

/** The root of a thread (from history) and a page of its replies in seq order: after a seq, or the page before one. */
export function readThread(
  db: Database.Database,
  conversationId: string,
  rootId: string,
  page: { after?: number; before?: number; limit: number },
): { root: HistoryMessage | null; messages: HistoryMessage[] } {
  const rows =
    page.before !== undefined
      ? (prepared(db, 'SELECT * FROM thread_replies WHERE conversation_id = ? AND root_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?')
          .all(conversationId, rootId, page.before, page.limit) as ReplyRow[]).reverse()
      : (prepared(db, 'SELECT * FROM thread_replies WHERE conversation_id = ? AND root_id = ? AND seq > ? ORDER BY seq ASC LIMIT ?')
          .all(conversationId, rootId, page.after ?? 0, page.limit) as ReplyRow[]);
  return { root: rootMessage(db, conversationId, rootId), messages: rows.map(toMessage) };
}

/** The messages, each root among them with its thread summary. */
export function withThreadSummaries(db: Database.Database, conversationId: string, messages: HistoryMessage[]): HistoryMessage[] {
  // Most conversations have no threads: one index probe, then nothing per message.
  if (messages.length === 0 || prepared(db, 'SELECT 1 FROM thread_replies WHERE conversation_id = ? LIMIT 1').get(conversationId) === undefined) return messages;
  return messages.map((m) => {
    const thread = threadSummary(db, conversationId, m.messageId);
    return thread ? { ...m, thread } : m;
  });
}

/** Reply count and newest live reply of a root; undefined when it has no live replies. */
export function threadSummary(db: Database.Database, conversationId: string, rootId: string): ThreadSummary | undefined {
  const last = prepared(
    db,
    `SELECT seq, author, sent_at,
       (SELECT count(*) FROM thread_replies WHERE conversation_id = @c AND root_id = @r AND deleted = 0) AS replies
     FROM thread_replies WHERE conversation_id = @c AND root_id = @r AND deleted = 0 ORDER BY seq DESC LIMIT 1`,
  ).get({ c: conversationId, r: rootId }) as { seq: number; author: string; sent_at: number; replies: number } | undefined;
  if (!last) return undefined;
  return { replyCount: last.replies, lastReply: { seq: last.seq, author: last.author, sentAt: new Date(last.sent_at).toISOString() } };
}

/** The threads `userId` follows in conversations they are a member of, most recent reply first. */
export function threadsOf(db: Database.Database, userId: string, limit: number): ThreadListEntry[] {
  const rows = prepared(
    db,
    `SELECT f.conversation_id, f.root_id, f.read_seq FROM thread_follows f
     WHERE f.user_id = ? AND f.following = 1
       AND EXISTS (SELECT 1 FROM members m WHERE m.conversation_id = f.conversation_id AND m.user_id = f.user_id)
     ORDER BY (SELECT max(r.seq) FROM thread_replies r WHERE r.conversation_id = f.conversation_id AND r.root_id = f.root_id) DESC,
       f.conversation_id, f.root_id
     LIMIT ?`,
  ).all(userId, limit) as Array<{ conversation_id: string; root_id: string; read_seq: number }>;
  const unread = prepared(
    db,
    'SELECT count(*) FROM thread_replies WHERE conversation_id = ? AND root_id = ? AND seq > ? AND author != ? AND deleted = 0',
  ).pluck();
  return rows.map((r) => {
    const summary = threadSummary(db, r.conversation_id, r.root_id);
    return {
      conversationId: r.conversation_id,
      threadRootId: r.root_id,
      root: rootMessage(db, r.conversation_id, r.root_id),
      replyCount: summary?.replyCount ?? 0,
      lastReply: summary?.lastReply ?? null,
      readSeq: r.read_seq,
      unread: unread.get(r.conversation_id, r.root_id, r.read_seq, userId) as number,
    };
  });
}

function rootMessage(db: Database.Database, conversationId: string, rootId: string): HistoryMessage | null {
  const row = prepared(db, 'SELECT * FROM messages WHERE message_id = ? AND conversation_id = ?').get(rootId, conversationId) as ReplyRow | undefined;
  if (!row) return null;
  const root = toMessage(row);
  const thread = threadSummary(db, conversationId, rootId);
  return thread ? { ...root, thread } : root;
}

function toMessage(r: ReplyRow): HistoryMessage {
  return {
    seq: r.seq,
    messageId: r.message_id,
    author: r.author,
    text: r.text,
    sentAt: new Date(r.sent_at).toISOString(),
    format: r.format as HistoryMessage['format'],
    // JSON.parse makes own properties: a `__proto__` emoji stays a key, not a prototype.
    reactions: JSON.parse(r.reactions),
    deleted: r.deleted === 1,
    ...(r.redacted === 1 && { redacted: true as const }),
    ...(r.root_id !== undefined && { threadRootId: r.root_id }),
  };
}
