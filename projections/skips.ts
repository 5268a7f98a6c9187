/**
 * Operator skips: events one projection passes over without applying them.
 *
 * A poison event (one a projection cannot apply, whatever the retries) stops that
 * projection; the log is never edited to get past it. An operator records a skip instead
 * (`parley skip`, or the admin route on a running node) and the runner then moves that
 * projection's checkpoint over the event as if the projection did not handle its type.
 *
 * Skips live in the read-model file next to the checkpoints, so a rebuild honours them
 * too. They are a decision about this node's read models, not a fact of the log: a node
 * whose read-model file is deleted meets the poison event again and needs the skip again.
 */
import type Database from 'better-sqlite3';
import { prepared } from './prepared.js';

export interface ProjectionSkip {
  projection: string;
  position: number;
  reason: string;
  /** Milliseconds since the epoch when it was recorded. */
  at: number;
}

export function setupSkips(db: Database.Database): void {
  db.exec(`CREATE TABLE IF NOT EXISTS projection_skips (
    name TEXT NOT NULL, position INTEGER NOT NULL, reason TEXT NOT NULL, at INTEGER NOT NULL,
    PRIMARY KEY (name, position)
  ) WITHOUT ROWID`);
}

/** Records that `projection` passes over the event at `position`; recording it twice changes nothing. */
export function recordSkip(db: Database.Database, projection: string, position: number, reason = ''): ProjectionSkip {
  setupSkips(db);
  const at = Date.now();
  prepared(db, 'INSERT OR IGNORE INTO projection_skips VALUES (?, ?, ?, ?)').run(projection, position, reason, at);
  return skipsOf(db).find((s) => s.projection === projection && s.position === position)!;
}

/** Every recorded skip, by projection then position. */
export function skipsOf(db: Database.Database): ProjectionSkip[] {
  setupSkips(db);
  return prepared(db, 'SELECT name AS projection, position, reason, at FROM projection_skips ORDER BY name, position').all() as ProjectionSkip[];
}

/** Skipped positions per projection, for the runner's filter. */
export function skippedPositions(db: Database.Database): Map<string, Set<number>> {
  const out = new Map<string, Set<number>>();
  for (const s of skipsOf(db)) {
    let set = out.get(s.projection);
    if (!set) out.set(s.projection, (set = new Set()));
    set.add(s.position);
  }
  return out;
}
