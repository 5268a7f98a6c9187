/**
 * `parley rebuild` on two cores: a share of the read models (`SIDE`) is rebuilt on a
 * thread of its own into a scratch file beside the read-model file, while the main thread
 * rebuilds the others; then the main thread copies the side's tables and checkpoints in,
 * in one transaction. Tables of the same schema into empty ones copy page content as it
 * is (SQLite's transfer optimization: no row decoded, indexes copied in order), far less
 * than building them. Killed before that transaction commits, the read-model file holds
 * those read models as they were before (consistent with their checkpoints); the scratch
 * file is removed by the next rebuild.
 */
import type Database from 'better-sqlite3';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { SharedPages } from './log-prefetch.js';
import { builtInProjections, skipsOf } from '../../projections/index.js';
import { projectionTables } from './read-model-tables.js';
import { removeSideFile, type SideDone } from './rebuild-side-file.js';

/**
 * Read models the side thread builds, chosen so both threads carry about the same work
 * (CPU seconds per thread up to the copy, 300k events with 2% deletes: main ~4.6 s, side
 * ~4.6 s; with analytics here too the side took ~6.1 s and the main thread ~3.9 s, and the
 * copy waits for the slower); only ones with plain tables (the copy is a plain INSERT … SELECT).
 */
export const SIDE = ['history', 'conversation-list'];

const WORKER_URL = import.meta.url.endsWith('.ts') ? new URL('./rebuild-side-entry.js', import.meta.url) : new URL('./rebuild-side-worker.js', import.meta.url);

export interface SideRebuild {
  readonly names: string[];
  /** Waits for the thread, then copies what it built into `db`; throws what stopped it. */
  merge(db: Database.Database): Promise<void>;
  /** Ends the thread (if still running) and removes the scratch file. */
  close(): Promise<void>;
}

/**
 * The named read models split in two: those the side thread takes and the rest; none for
 * the side when either share would be empty or there is one core (the side thread adds
 * work: each page parsed twice, the tables copied).
 */
export function splitRebuild(names: string[], cores = availableParallelism()): { main: string[]; side: string[] } {
  const side = names.filter((n) => SIDE.includes(n));
  const main = names.filter((n) => !SIDE.includes(n));
  return cores > 1 && main.length > 0 && side.length > 0 ? { main, side } : { main: names, side: [] };
}

/** `pages`: the main thread's read-ahead of the log, shared (`SharingLog.share`), so the log is scanned once. */
export function startSideRebuild(db: Database.Database, pages: SharedPages, events: string, file: string, names: string[], batchSize: number): SideRebuild {
  const worker = new Worker(WORKER_URL, { workerData: { pages: pages.port, events, file, names, skips: skipsOf(db), batchSize }, transferList: [pages.port] });
  const done = new Promise<SideDone>((resolve) => {
    worker.once('message', resolve);
    worker.once('error', (err) => resolve({ built: false, error: err.message }));
    worker.once('exit', (code) => resolve({ built: false, error: `the side rebuild thread exited (${code})` }));
  });
  // However the thread ended, the read-ahead no longer waits for it.
  void done.then(() => pages.release());
  return {
    names,
    async merge(target) {
      const result = await done;
      if (result.built) copyIn(target, file, names);
      if (result.error) throw new Error(result.error);
    },
    async close() {
      await worker.terminate();
      removeSideFile(file);
    },
  };
}

/** Replaces the named read models' tables and checkpoints in `db` with the scratch file's, in one transaction. */
function copyIn(db: Database.Database, file: string, names: string[]): void {
  db.prepare("ATTACH DATABASE ? AS rebuild_side").run(file);
  try {
    db.transaction(() => {
      for (const p of builtInProjections().filter((q) => names.includes(q.name))) {
        p.truncate(db);
        for (const t of projectionTables(p)) db.exec(`INSERT INTO main."${t}" SELECT * FROM rebuild_side."${t}"`);
        db.prepare('INSERT OR REPLACE INTO main.projection_checkpoints SELECT * FROM rebuild_side.projection_checkpoints WHERE name = ?').run(p.name);
      }
    }).immediate();
  } finally {
    db.exec('DETACH DATABASE rebuild_side');
  }
}
