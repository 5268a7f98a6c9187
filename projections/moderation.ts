/**
 * Roles and moderation as read models: each conversation's roles, mutes, bans and pins
 * (members read them), and the node's moderation queue of reported messages (admins
 * read it). Reports show the message as history has it now: deleted ones lose their text.
 */
import type Database from 'better-sqlite3';
import { conversationIdOf } from '../engine/store/index.js';
import type { ReportEntry, ReportOutcome, ReportStatus, Role } from '../protocol/index.js';
import { defineProjection } from './projection.js';
import { prepared } from './prepared.js';

export const moderation = defineProjection({
  name: 'moderation',
  source: { module: import.meta.url, export: 'moderation' },
  // 2: reports carry their resolution (ReportResolved).
  version: 2,
  handles: [
    'ConversationCreated',
    'MemberJoined',
    'MemberLeft',
    'MessageDeleted',
    'RoleChanged',
    'MemberMuted',
    'MemberBanned',
    'MemberUnbanned',
    'MessageReported',
    'MessagePinned',
    'MessageUnpinned',
    'ReportResolved',
  ],
  setup(db) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS mod_creators (conversation_id TEXT PRIMARY KEY, created_by TEXT NOT NULL) WITHOUT ROWID;
      -- Roles other than member, of current members.
      CREATE TABLE IF NOT EXISTS mod_roles (
        conversation_id TEXT NOT NULL, user_id TEXT NOT NULL, role TEXT NOT NULL, PRIMARY KEY (conversation_id, user_id)
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS mod_mutes (
        conversation_id TEXT NOT NULL, user_id TEXT NOT NULL, until INTEGER NOT NULL, PRIMARY KEY (conversation_id, user_id)
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS mod_bans (conversation_id TEXT NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY (conversation_id, user_id)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS mod_pins (
        conversation_id TEXT NOT NULL, message_id TEXT NOT NULL, position INTEGER NOT NULL, PRIMARY KEY (conversation_id, message_id)
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS mod_reports (
        position INTEGER PRIMARY KEY, conversation_id TEXT NOT NULL, message_id TEXT NOT NULL,
        reported_by TEXT NOT NULL, reason TEXT NOT NULL, reported_at INTEGER NOT NULL,
        outcome TEXT, resolved_by TEXT, resolved_at INTEGER
      );
      CREATE INDEX IF NOT EXISTS mod_reports_by_conversation ON mod_reports (conversation_id, position);
    `);
  },
  handle(events, db) {
    const setRole = prepared(db, 'INSERT OR REPLACE INTO mod_roles (conversation_id, user_id, role) VALUES (?, ?, ?)');
    const unsetRole = prepared(db, 'DELETE FROM mod_roles WHERE conversation_id = ? AND user_id = ?');
    const unmute = prepared(db, 'DELETE FROM mod_mutes WHERE conversation_id = ? AND user_id = ?');
    const unpin = prepared(db, 'DELETE FROM mod_pins WHERE conversation_id = ? AND message_id = ?');
    for (const e of events) {
      const id = conversationIdOf(e.stream);
      if (!id) continue;
      switch (e.type) {
        case 'ConversationCreated':
          prepared(db, 'INSERT OR IGNORE INTO mod_creators VALUES (?, ?)').run(id, e.data.createdBy);
          setRole.run(id, e.data.createdBy, 'owner');
          break;
        case 'MemberJoined':
          // As the decider (engine/domain/moderation.ts): an old log's creator rejoining an ownerless conversation.
          if (isCreator(db, id, e.data.userId) && !hasOwner(db, id)) setRole.run(id, e.data.userId, 'owner');
          break;
        case 'MemberLeft':
          unsetRole.run(id, e.data.userId);
          unmute.run(id, e.data.userId);
          break;
        case 'RoleChanged':
          if (e.data.role === 'member') unsetRole.run(id, e.data.userId);
          else setRole.run(id, e.data.userId, e.data.role);
          break;
        case 'MemberMuted':
          prepared(db, 'INSERT OR REPLACE INTO mod_mutes VALUES (?, ?, ?)').run(id, e.data.userId, e.data.until);
          break;
        case 'MemberBanned':
          prepared(db, 'INSERT OR IGNORE INTO mod_bans VALUES (?, ?)').run(id, e.data.userId);
          break;
        case 'MemberUnbanned':
          prepared(db, 'DELETE FROM mod_bans WHERE conversation_id = ? AND user_id = ?').run(id, e.data.userId);
          break;
        case 'MessagePinned':
          prepared(db, 'INSERT OR IGNORE INTO mod_pins VALUES (?, ?, ?)').run(id, e.data.messageId, e.position);
          break;
        case 'MessageUnpinned':
        case 'MessageDeleted':
          unpin.run(id, e.data.messageId);
          break;
        case 'MessageReported':
          prepared(db, 'INSERT OR IGNORE INTO mod_reports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)').run(
            e.position, id, e.data.messageId, e.data.reportedBy, e.data.reason, e.metadata.at, null, null, null,
          );
          break;
        case 'ReportResolved':
          // Closes the reports made before it; a later report of the message is open again.
          prepared(
            db,
            'UPDATE mod_reports SET outcome = ?, resolved_by = ?, resolved_at = ? WHERE conversation_id = ? AND message_id = ? AND outcome IS NULL',
          ).run(e.data.outcome, e.data.resolvedBy, e.metadata.at, id, e.data.messageId);
          break;
      }
    }
  },
  drop(db) {
    db.exec('DROP TABLE IF EXISTS mod_reports');
  },
  truncate(db) {
    db.exec('DELETE FROM mod_creators; DELETE FROM mod_roles; DELETE FROM mod_mutes; DELETE FROM mod_bans; DELETE FROM mod_pins; DELETE FROM mod_reports;');
  },
});

function isCreator(db: Database.Database, conversationId: string, userId: string): boolean {
  return prepared(db, 'SELECT 1 FROM mod_creators WHERE conversation_id = ? AND created_by = ?').get(conversationId, userId) !== undefined;
}

function hasOwner(db: Database.Database, conversationId: string): boolean {
  return prepared(db, "SELECT 1 FROM mod_roles WHERE conversation_id = ? AND role = 'owner'").get(conversationId) !== undefined;
}

export interface ModerationView {
  /** Every member with their role (members without a role event are `member`). */
  members: Array<{ userId: string; role: Role; mutedUntil?: number }>;
  banned: string[];
  /** Pinned message ids, in the order they were pinned. */
  pinned: string[];
}

/** A conversation's roles, mutes, bans and pins; `members` are the conversation's current members. */
export function moderationOf(db: Database.Database, conversationId: string, members: readonly string[]): ModerationView {
  const roles = new Map(
    (prepared(db, 'SELECT user_id, role FROM mod_roles WHERE conversation_id = ?').all(conversationId) as Array<{ user_id: string; role: Role }>).map(
      (r) => [r.user_id, r.role],
    ),
  );
  const mutes = new Map(
    (prepared(db, 'SELECT user_id, until FROM mod_mutes WHERE conversation_id = ?').all(conversationId) as Array<{ user_id: string; until: number }>).map(
      (r) => [r.user_id, r.until],
    ),
  );
  return {
    members: members.map((userId) => {
      const until = mutes.get(userId);
      return { userId, role: roles.get(userId) ?? 'member', ...(until !== undefined && { mutedUntil: until }) };
    }),
    banned: prepared(db, 'SELECT user_id FROM mod_bans WHERE conversation_id = ? ORDER BY user_id').pluck().all(conversationId) as string[],
    pinned: prepared(db, 'SELECT message_id FROM mod_pins WHERE conversation_id = ? ORDER BY position').pluck().all(conversationId) as string[],
  };
}

/** A page of the node's moderation queue, oldest report first, after a log position. */
export function moderationQueue(
  db: Database.Database,
  options: { after: number; limit: number; conversationId?: string; status?: ReportStatus },
): { reports: ReportEntry[]; nextAfter: number | null } {
  const status = options.status ?? 'all';
  // The message as the history read model holds it now (same file); a deleted one has no text.
  const rows = prepared(
    db,
    `SELECT r.position, r.conversation_id, r.message_id, r.reported_by, r.reason, r.reported_at, r.outcome, r.resolved_by, r.resolved_at,
            coalesce(m.author, '') AS author, coalesce(m.text, '') AS text, coalesce(m.deleted, 1) AS deleted
       FROM mod_reports r
       LEFT JOIN messages m ON m.conversation_id = r.conversation_id AND m.message_id = r.message_id
      WHERE r.position > ? AND (? IS NULL OR r.conversation_id = ?)
        AND (? = 'all' OR (? = 'open') = (r.outcome IS NULL))
      ORDER BY r.position LIMIT ?`,
  ).all(options.after, options.conversationId ?? null, options.conversationId ?? null, status, status, options.limit) as Array<
    Record<string, string | number | null>
  >;
  const reports = rows.map(toReportEntry);
  return { reports, nextAfter: reports.length === options.limit ? reports[reports.length - 1]!.position : null };
}

function toReportEntry(r: Record<string, string | number | null>): ReportEntry {
  return {
    position: r.position as number,
    conversationId: r.conversation_id as string,
    messageId: r.message_id as string,
    reportedBy: r.reported_by as string,
    reason: r.reason as string,
    reportedAt: new Date(r.reported_at as number).toISOString(),
    author: r.author as string,
    text: r.text as string,
    deleted: r.deleted === 1,
    ...(r.outcome !== null && {
      resolution: {
        outcome: r.outcome as ReportOutcome,
        resolvedBy: r.resolved_by as string,
        resolvedAt: new Date(r.resolved_at as number).toISOString(),
      },
    }),
  };
}

/** The user's role in the conversation as the read model has it (a member without a role event is `member`). */
export function roleIn(db: Database.Database, conversationId: string, userId: string): Role {
  const row = prepared(db, 'SELECT role FROM mod_roles WHERE conversation_id = ? AND user_id = ?').pluck().get(conversationId, userId);
  return (row as Role | undefined) ?? 'member';
}
