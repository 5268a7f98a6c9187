/**
 * Presence: who is connected to which node, and when each user was last seen. A user is
 * online while a node that is alive holds a session for them.
 *
 * A node can die without saying goodbye (kill -9, a lost machine). Two things then make
 * its users offline:
 * - the log: a surviving node appends `NodeExpired` to the dead node's stream; this read
 *   model then ignores that node's sessions until the node says `NodeResumed` (it was only
 *   cut off) or `NodeStarted` (it restarted and forgets what it held);
 * - this node's own view of which peers are alive (from heartbeats, `nodeLiveness`), which
 *   is not in the log and acts at once, before `NodeExpired` has travelled the feed.
 */
import type Database from 'better-sqlite3';
import { defineProjection } from './projection.js';
import { prepared } from './prepared.js';

export interface PresenceView {
  userId: string;
  online: boolean;
  /** Milliseconds since the epoch of the last disconnect; null if never seen or online. */
  lastSeen: number | null;
}

export const presence = defineProjection({
  name: 'presence',
  source: { module: import.meta.url, export: 'presence' },
  version: 1,
  handles: ['UserOnline', 'UserOffline', 'NodeStarted', 'NodeExpired', 'NodeResumed'],
  setup(db) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS presence_sessions (
        user_id TEXT NOT NULL, node_id TEXT NOT NULL, PRIMARY KEY (user_id, node_id)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS presence_sessions_by_node ON presence_sessions (node_id);
      CREATE TABLE IF NOT EXISTS presence_last_seen (user_id TEXT PRIMARY KEY, last_seen INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS presence_nodes_expired (node_id TEXT PRIMARY KEY, since INTEGER NOT NULL) WITHOUT ROWID;
    `);
  },
  handle(events, db) {
    const seen = prepared(
      db,
      'INSERT INTO presence_last_seen VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)',
    );
    const usersOn = (nodeId: string) =>
      prepared(db, 'SELECT user_id FROM presence_sessions WHERE node_id = ?').pluck().all(nodeId) as string[];
    const revive = prepared(db, 'DELETE FROM presence_nodes_expired WHERE node_id = ?');
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
          for (const u of usersOn(e.data.nodeId)) seen.run(u, e.metadata.at);
          prepared(db, 'DELETE FROM presence_sessions WHERE node_id = ?').run(e.data.nodeId);
          revive.run(e.data.nodeId);
          break;
        }
        case 'NodeExpired': {
          // Its users were last seen when the node was last heard of, not when it was noticed.
          const since = typeof e.data.lastHeardAt === 'number' ? e.data.lastHeardAt : e.metadata.at;
          for (const u of usersOn(e.data.nodeId)) seen.run(u, since);
          prepared(db, 'INSERT OR IGNORE INTO presence_nodes_expired VALUES (?, ?)').run(e.data.nodeId, since);
          break;
        }
        case 'NodeResumed':
          revive.run(e.data.nodeId);
          break;
      }
    }
  },
  truncate(db) {
    db.exec('DELETE FROM presence_sessions; DELETE FROM presence_last_seen; DELETE FROM presence_nodes_expired;');
  },
});

/**
 * This node's own view of peers that stopped sending heartbeats: node id → when it was
 * last heard of. Kept per read-model database (one per node, even when several nodes
 * share a process), never written to it: it is not a fact of the log.
 */
const silentNodes = new WeakMap<Database.Database, Map<string, number>>();

export function nodeLiveness(db: Database.Database) {
  let down = silentNodes.get(db);
  if (!down) silentNodes.set(db, (down = new Map()));
  const map = down;
  return {
    markDown: (nodeId: string, lastHeardAt: number) => void map.set(nodeId, lastHeardAt),
    markUp: (nodeId: string) => void map.delete(nodeId),
    isDown: (nodeId: string) => map.has(nodeId),
  };
}

export function presenceOf(db: Database.Database, userIds: string[]): PresenceView[] {
  const sessions = prepared(
    db,
    `SELECT s.node_id AS nodeId, x.since AS expiredSince FROM presence_sessions s
       LEFT JOIN presence_nodes_expired x ON x.node_id = s.node_id WHERE s.user_id = ?`,
  );
  const last = prepared(db, 'SELECT last_seen FROM presence_last_seen WHERE user_id = ?').pluck();
  const silent = silentNodes.get(db);
  return userIds.map((userId) => {
    let online = false;
    let lastSeen = (last.get(userId) as number | undefined) ?? null;
    for (const s of sessions.all(userId) as Array<{ nodeId: string; expiredSince: number | null }>) {
      const silentSince = silent?.get(s.nodeId);
      const goneSince = s.expiredSince ?? silentSince;
      if (goneSince === undefined) {
        online = true;
        break;
      }
      lastSeen = Math.max(lastSeen ?? 0, goneSince);
    }
    return { userId, online, lastSeen: online ? null : lastSeen };
  });
}

/** Users with a session on the node (alive or not), for presence frames when it comes or goes. */
export function usersOnNode(db: Database.Database, nodeId: string): string[] {
  return prepared(db, 'SELECT user_id FROM presence_sessions WHERE node_id = ?').pluck().all(nodeId) as string[];
}

/** True while any node (alive or not) holds a session for the user: only then can a node's coming or going change their presence. */
export function hasSessions(db: Database.Database, userId: string): boolean {
  return prepared(db, 'SELECT 1 FROM presence_sessions WHERE user_id = ? LIMIT 1').get(userId) !== undefined;
}

/** Nodes holding sessions in this read model: the ones whose liveness matters. */
export function nodesWithSessions(db: Database.Database): string[] {
  return prepared(db, 'SELECT DISTINCT node_id FROM presence_sessions').pluck().all() as string[];
}

/** True when the log says the node expired and it has not resumed or restarted since. */
export function isNodeExpired(db: Database.Database, nodeId: string): boolean {
  return prepared(db, 'SELECT 1 FROM presence_nodes_expired WHERE node_id = ?').get(nodeId) !== undefined;
}
