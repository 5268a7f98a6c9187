/**
 * Finds a message's row in a read-model table whose row id is the position of the
 * message's `MessagePosted` event (history, the conversation list's live messages, search
 * documents). Deletes, edits and reactions name a message by its id, so normally the row
 * is found through the table's unique index on message ids.
 *
 * During a bulk load (`parley rebuild`) that index is dropped and built once at the end,
 * sorted: kept current insert by insert, a B-tree of random ids costs more than the rest
 * of the row. Meanwhile the rows this load posted are found in memory. The map only grows,
 * and an entry is a hint, not a fact: a transaction that rolled back (the runner then
 * applies each read model again on its own) can leave an entry whose row is gone, so
 * updates go by row id (a row that is gone is not changed) and an insert first checks the
 * row of a known id is still there. Past `MAX_IN_MEMORY` ids the index is built there and
 * then and used from then on, so a rebuild's memory stays bounded whatever the log holds.
 */
import type Database from 'better-sqlite3';
import { prepared } from './prepared.js';

/**
 * Message ids one read model keeps in memory during a bulk load: ~130 bytes each (measured:
 * +116 MB RSS for three read models of 294k messages), so at most ~130 MB per read model.
 */
export const MAX_IN_MEMORY = 1_000_000;

export interface MessageTable {
  /** The table; its INTEGER PRIMARY KEY is the position of the message's MessagePosted. */
  table: string;
  /** The unique index on `message_id` and the statement that builds it. */
  index: string;
  createIndex: string;
}

const loads = new WeakMap<Database.Database, Map<string, Map<string, number>>>();

/** Starts a bulk load of `spec`'s table: drops its message-id index, rows found in memory until `endBulkLoad`. */
export function startBulkLoad(db: Database.Database, spec: MessageTable): void {
  db.exec(`DROP INDEX IF EXISTS ${spec.index}`);
  let byTable = loads.get(db);
  if (!byTable) loads.set(db, (byTable = new Map()));
  byTable.set(spec.table, new Map());
}

/** Ends a bulk load (if one runs) and builds the message-id index; `setup` calls it, so it also heals a load cut short. */
export function endBulkLoad(db: Database.Database, spec: MessageTable): void {
  loads.get(db)?.delete(spec.table);
  db.exec(spec.createIndex);
}

/** How `handle` finds and adds rows of `spec`'s table, in a bulk load or not. */
export function messageRows(db: Database.Database, spec: MessageTable): MessageRows {
  const inMemory = loads.get(db)?.get(spec.table);
  return inMemory ? new InMemoryRows(db, spec, inMemory) : new IndexedRows(db, spec);
}

export interface MessageRows {
  /** The row id of the message, null when it has none (in a bulk load it may name a row that is gone). */
  find(messageId: string): number | null;
  /**
   * Whether a message with this id may be inserted: the unique index decides when there
   * is one (the insert is OR IGNORE); in a bulk load, false while its row is there.
   */
  mayInsert(messageId: string): boolean;
  /** Notes the row a message was just inserted at. */
  inserted(messageId: string, row: number): void;
}

class IndexedRows implements MessageRows {
  constructor(
    private readonly db: Database.Database,
    private readonly spec: MessageTable,
  ) {}

  find(messageId: string): number | null {
    return (prepared(this.db, `SELECT rowid FROM ${this.spec.table} WHERE message_id = ?`).pluck().get(messageId) as number | undefined) ?? null;
  }

  mayInsert(): boolean {
    return true;
  }

  inserted(): void {}
}

class InMemoryRows implements MessageRows {
  constructor(
    private readonly db: Database.Database,
    private readonly spec: MessageTable,
    private readonly rows: Map<string, number>,
  ) {}

  find(messageId: string): number | null {
    return this.rows.get(messageId) ?? null;
  }

  mayInsert(messageId: string): boolean {
    const row = this.rows.get(messageId);
    return row === undefined || prepared(this.db, `SELECT 1 FROM ${this.spec.table} WHERE rowid = ?`).get(row) === undefined;
  }

  inserted(messageId: string, row: number): void {
    this.rows.set(messageId, row);
    // Bounded: the index, built now over every row so far, finds them from the next batch on.
    if (this.rows.size === MAX_IN_MEMORY) endBulkLoad(this.db, this.spec);
  }
}
