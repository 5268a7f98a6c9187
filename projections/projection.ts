import type Database from 'better-sqlite3';
import type { StoredEvent } from '../engine/store/index.js';

/**
 * A read model built from the log. The runner calls `handle` inside a transaction that
 * also moves the projection's checkpoint, so a read model and its checkpoint never
 * disagree. Bumping `version` makes the runner truncate and rebuild it.
 */
export interface Projection {
  readonly name: string;
  readonly version: number;
  /** Event types it reads; the runner hands it only these. */
  readonly handles: readonly string[];
  /** Creates its tables if they are missing. */
  setup(db: Database.Database): void;
  /** Applies a batch of events, oldest first. Runs inside the runner's transaction. */
  handle(events: StoredEvent[], db: Database.Database): void;
  /** Removes everything it built, for a rebuild. */
  truncate(db: Database.Database): void;
  /** Drops its tables when its version changed, so `setup` can create the new schema. */
  drop?(db: Database.Database): void;
}
