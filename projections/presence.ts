/**
 * Presence: who is connected to which node, and when each user was last seen. A user is
 * online while any node holds a session for them.
 */
import type Database from 'better-sqlite3';
import type { Projection } from './projection.js';
import { prepared } from './prepared.js';

export interface PresenceView {
  userId: string;
  online: boolean;
  /** Milliseconds since the epoch of the last disconnect; null if never seen or online. */
  lastSeen: number | null;
}

export const presence: Projection = {
  name: 'presence',
  version: 1,
  handles: ['UserOnline', 'UserOffline', 'NodeStarted'],
  setup(db) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS presence_sessions (
        user_id TEXT NOT NULL, node_id TEXT NOT NULL, PRIMARY KEY (user_id, node_id)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS presence_sessions_by_node ON presence_sessions (node_id);
      CREATE TABLE IF NOT EXISTS presence_last_seen (user_id TEXT PRIMARY KEY, last_seen INTEGER NOT NULL) WITHOUT ROWID;
    `);
  },
  handle(events, db) {
    const seen = prepared(
      db,
      'INSERT INTO presence_last_seen VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)',
    );
    for (const e of events) {
      switch (e.type) {
        case 'UserOnline':
          prepared(db, 'INSERT OR IGNORE INTO presence_sessions VALUES (?, ?)').run(e.data.userId, e.data.nodeId);
          break;
        case 'UserOffline':
          prepared(db, 'DELETE FROM presence_sessions WHERE user_id = ? AND node_id = ?').run(e.data.userId, e.data.nodeId);
          seen.run(e.data.userId, e.metadata.at);
          break;
        case 'NodeStarted': {
          const users = prepared(db, 'SELECT user_id FROM presence_sessions WHERE node_id = ?')
            .pluck()
            .all(e.data.nodeId) as string[];
          for (const u of users) seen.run(u, e.metadata.at);
          prepared(db, 'DELETE FROM presence_sessions WHERE node_id = ?').run(e.data.nodeId);
          break;
        }
      }
    }
  },
  truncate(db) {
    db.exec('DELETE FROM presence_sessions; DELETE FROM presence_last_seen;');
  },
};

export function presenceOf(db: Database.Database, userIds: string[]): PresenceView[] {
  const online = prepared(db, 'SELECT 1 FROM presence_sessions WHERE user_id = ? LIMIT 1');
  const last = prepared(db, 'SELECT last_seen FROM presence_last_seen WHERE user_id = ?').pluck();
  return userIds.map((userId) => {
    const isOnline = online.get(userId) !== undefined;
    return { userId, online: isOnline, lastSeen: isOnline ? null : ((last.get(userId) as number | undefined) ?? null) };
  });
}
