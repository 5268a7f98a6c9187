/**
 * Analytics for admins: messages per conversation per hour, active users per day, time
 * to first reply, reactions by emoji. Built from the log like every read model, so it
 * can be rebuilt (or versioned) without touching anything else.
 *
 * Time to first reply: when someone speaks after a different member spoke last, the wait
 * since the first unanswered message of that other member is one sample.
 */
import type Database from 'better-sqlite3';
import { conversationIdOf } from '../engine/store/index.js';
import type { Projection } from './projection.js';
import { prepared } from './prepared.js';

const HOUR = 3_600_000;

export const analytics: Projection = {
  name: 'analytics',
  version: 1,
  handles: ['MessagePosted', 'ReactionAdded', 'ReactionRemoved', 'MessageDeleted', 'ReadMarkerSet', 'MemberJoined', 'ConversationCreated'],
  setup(db) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS analytics_messages_hourly (
        conversation_id TEXT NOT NULL, hour INTEGER NOT NULL, count INTEGER NOT NULL,
        PRIMARY KEY (conversation_id, hour)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS analytics_active_users (
        day TEXT NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY (day, user_id)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS analytics_waiting (
        conversation_id TEXT PRIMARY KEY, author TEXT NOT NULL, since INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS analytics_replies (
        conversation_id TEXT NOT NULL, at INTEGER NOT NULL, seconds REAL NOT NULL);
      CREATE INDEX IF NOT EXISTS analytics_replies_by_seconds ON analytics_replies (seconds);
      CREATE TABLE IF NOT EXISTS analytics_reactions (emoji TEXT PRIMARY KEY, count INTEGER NOT NULL) WITHOUT ROWID;
    `);
  },
  handle(events, db) {
    const active = prepared(db, 'INSERT OR IGNORE INTO analytics_active_users VALUES (?, ?)');
    for (const e of events) {
      const conversationId = conversationIdOf(e.stream);
      if (!conversationId) continue;
      active.run(new Date(e.metadata.at).toISOString().slice(0, 10), e.metadata.actor);
      switch (e.type) {
        case 'MessagePosted':
          prepared(
            db,
            'INSERT INTO analytics_messages_hourly VALUES (?, ?, 1) ON CONFLICT DO UPDATE SET count = count + 1',
          ).run(conversationId, Math.floor(e.metadata.at / HOUR) * HOUR);
          replied(db, conversationId, e.data.author, e.metadata.at);
          break;
        case 'ReactionAdded':
        case 'ReactionRemoved':
          prepared(db, 'INSERT INTO analytics_reactions VALUES (?, ?) ON CONFLICT DO UPDATE SET count = max(0, count + excluded.count)').run(
            e.data.emoji,
            e.type === 'ReactionAdded' ? 1 : -1,
          );
          break;
      }
    }
  },
  truncate(db) {
    db.exec(`DELETE FROM analytics_messages_hourly; DELETE FROM analytics_active_users; DELETE FROM analytics_waiting;
      DELETE FROM analytics_replies; DELETE FROM analytics_reactions;`);
  },
};

function replied(db: Database.Database, conversationId: string, author: string, at: number): void {
  const waiting = prepared(db, 'SELECT author, since FROM analytics_waiting WHERE conversation_id = ?').get(conversationId) as
    | { author: string; since: number }
    | undefined;
  if (waiting?.author === author) return;
  if (waiting) prepared(db, 'INSERT INTO analytics_replies VALUES (?, ?, ?)').run(conversationId, at, (at - waiting.since) / 1000);
  prepared(db, 'INSERT OR REPLACE INTO analytics_waiting VALUES (?, ?, ?)').run(conversationId, author, at);
}

export interface AnalyticsReport {
  messagesPerHour: Array<{ conversationId: string; hour: string; count: number }>;
  /** Users who did anything in any conversation that day (not narrowed by a conversation filter). */
  activeUsersPerDay: Array<{ day: string; users: number }>;
  medianTimeToFirstReplySeconds: number | null;
  replies: number;
  reactionsByEmoji: Array<{ emoji: string; count: number }>;
}

/** The report between two times (ms since epoch), optionally for one conversation. */
export function analyticsReport(
  db: Database.Database,
  filter: { from?: number; to?: number; conversationId?: string } = {},
): AnalyticsReport {
  const from = filter.from ?? 0;
  const to = filter.to ?? Number.MAX_SAFE_INTEGER;
  const conv = filter.conversationId ?? null;
  const hourly = prepared(
    db,
    `SELECT conversation_id, hour, count FROM analytics_messages_hourly
     WHERE hour >= ? AND hour < ? AND (? IS NULL OR conversation_id = ?) ORDER BY hour, conversation_id LIMIT 10000`,
  ).all(Math.floor(from / HOUR) * HOUR, to, conv, conv) as Array<{ conversation_id: string; hour: number; count: number }>;
  const days = prepared(
    db,
    'SELECT day, count(*) AS users FROM analytics_active_users WHERE day >= ? AND day <= ? GROUP BY day ORDER BY day',
  ).all(isoDay(from), filter.to === undefined ? '9999-12-31' : isoDay(to)) as Array<{ day: string; users: number }>;
  const replyWhere = 'WHERE at >= ? AND at < ? AND (? IS NULL OR conversation_id = ?)';
  const replies = prepared(db, `SELECT count(*) FROM analytics_replies ${replyWhere}`).pluck().get(from, to, conv, conv) as number;
  const median =
    replies === 0
      ? null
      : (prepared(db, `SELECT seconds FROM analytics_replies ${replyWhere} ORDER BY seconds LIMIT 1 OFFSET ?`)
          .pluck()
          .get(from, to, conv, conv, Math.floor((replies - 1) / 2)) as number);
  const reactions = prepared(db, 'SELECT emoji, count FROM analytics_reactions WHERE count > 0 ORDER BY count DESC, emoji').all() as Array<{
    emoji: string;
    count: number;
  }>;
  return {
    messagesPerHour: hourly.map((r) => ({ conversationId: r.conversation_id, hour: new Date(r.hour).toISOString(), count: r.count })),
    activeUsersPerDay: days,
    medianTimeToFirstReplySeconds: median,
    replies,
    reactionsByEmoji: reactions,
  };
}

function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
