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
import { defineProjection } from './projection.js';
import { insertRows, prepared } from './prepared.js';

const HOUR = 3_600_000;
const DAY = 86_400_000;

export const analytics = defineProjection({
  name: 'analytics',
  source: { module: import.meta.url, export: 'analytics' },
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
      -- Readers only (the median); a bulk load drops it and setup builds it after, sorting once.
      CREATE INDEX IF NOT EXISTS analytics_replies_by_seconds ON analytics_replies (seconds);
      CREATE TABLE IF NOT EXISTS analytics_reactions (emoji TEXT PRIMARY KEY, count INTEGER NOT NULL) WITHOUT ROWID;
    `);
  },
  handle(events, db) {
    const react = prepared(db, 'INSERT INTO analytics_reactions VALUES (?, ?) ON CONFLICT DO UPDATE SET count = max(0, count + excluded.count)');
    // Within a batch, counts and who waits for a reply are kept here and written once at
    // the end; the rows come out as if written event by event (and in the same order).
    const activeSeen = new Map<string, Set<string>>();
    const active: string[] = [];
    const hourly = new Map<string, Map<number, number>>();
    const waiting = new Waiting(db);
    const days = new DayNames();
    for (const e of events) {
      const conversationId = conversationIdOf(e.stream);
      if (!conversationId) continue;
      const day = days.of(e.metadata.at);
      // Per day, the users seen in this batch: nested, so no pair of user-chosen strings can collide with another pair.
      let seen = activeSeen.get(day);
      if (!seen) activeSeen.set(day, (seen = new Set()));
      if (!seen.has(e.metadata.actor)) {
        seen.add(e.metadata.actor);
        active.push(day, e.metadata.actor);
      }
      switch (e.type) {
        case 'MessagePosted': {
          const hour = Math.floor(e.metadata.at / HOUR) * HOUR;
          let counts = hourly.get(conversationId);
          if (!counts) hourly.set(conversationId, (counts = new Map()));
          counts.set(hour, (counts.get(hour) ?? 0) + 1);
          waiting.replied(conversationId, e.data.author, e.metadata.at);
          break;
        }
        case 'ReactionAdded':
        case 'ReactionRemoved':
          // Clamped at 0 per event, so these are not summed per batch.
          react.run(e.data.emoji, e.type === 'ReactionAdded' ? 1 : -1);
          break;
      }
    }
    insertRows(db, 'INSERT OR IGNORE INTO analytics_active_users VALUES', 2, active);
    const count = prepared(db, 'INSERT INTO analytics_messages_hourly VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET count = count + excluded.count');
    for (const [conversationId, counts] of hourly) for (const [hour, n] of counts) count.run(conversationId, hour, n);
    waiting.save();
  },
  truncate(db) {
    db.exec(`DELETE FROM analytics_messages_hourly; DELETE FROM analytics_active_users; DELETE FROM analytics_waiting;
      DELETE FROM analytics_replies; DELETE FROM analytics_reactions;`);
  },
  beforeBulkLoad(db) {
    db.exec('DROP INDEX IF EXISTS analytics_replies_by_seconds');
  },
});

/**
 * Time to first reply: per conversation, whose message waits for a reply and since when.
 * Read from the table once per conversation and batch, written back once at the end.
 */
class Waiting {
  private readonly current = new Map<string, { author: string; since: number } | null>();
  private readonly changed = new Set<string>();
  /** The batch's samples, (conversation, at, seconds) after one another, written in `save`. */
  private readonly samples: Array<string | number> = [];

  constructor(private readonly db: Database.Database) {}

  /** Someone spoke: a sample when the last speaker was someone else; they now wait for a reply. */
  replied(conversationId: string, author: string, at: number): void {
    const waiting = this.get(conversationId);
    if (waiting?.author === author) return;
    if (waiting) this.samples.push(conversationId, at, (at - waiting.since) / 1000);
    this.current.set(conversationId, { author, since: at });
    this.changed.add(conversationId);
  }

  save(): void {
    insertRows(this.db, 'INSERT INTO analytics_replies VALUES', 3, this.samples);
    const write = prepared(this.db, 'INSERT OR REPLACE INTO analytics_waiting VALUES (?, ?, ?)');
    for (const id of this.changed) {
      const w = this.current.get(id)!;
      write.run(id, w.author, w.since);
    }
  }

  private get(conversationId: string): { author: string; since: number } | null {
    let w = this.current.get(conversationId);
    if (w === undefined) {
      w = (prepared(this.db, 'SELECT author, since FROM analytics_waiting WHERE conversation_id = ?').get(conversationId) as
        | { author: string; since: number }
        | undefined) ?? null;
      this.current.set(conversationId, w);
    }
    return w;
  }
}

/** ISO days (YYYY-MM-DD, UTC) of times in ms; a batch's events mostly fall on one day, so the last is kept. */
class DayNames {
  private day = NaN;
  private name = '';

  of(at: number): string {
    const day = Math.floor(at / DAY);
    if (day !== this.day) {
      this.day = day;
      this.name = new Date(at).toISOString().slice(0, 10);
    }
    return this.name;
  }
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
