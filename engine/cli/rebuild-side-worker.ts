/**
 * The thread behind rebuild-side.ts: rebuilds its share of the read models (a bulk load,
 * as `parley rebuild` does on the main thread) into a scratch file of its own, reading
 * the main thread's read-ahead of the embedded log (the same pages), and says when it is done. The main
 * thread copies the result into the read-model file (`mergeSideRebuild`).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ProjectionRunner, builtInProjections, recordSkip, type ProjectionSkip } from '../../projections/index.js';
import { SqliteEventStore } from '../store/index.js';
import { withUpcasting } from '../domain/index.js';
import { sharedLog } from './log-prefetch.js';
import { removeSideFile, type SideDone, type SideSettings } from './rebuild-side-file.js';

async function run({ pages, events, file, names, skips, batchSize }: SideSettings): Promise<SideDone> {
  removeSideFile(file);
  const store = withUpcasting(new SqliteEventStore({ file: events }));
  const db = ProjectionRunner.openDatabase(file);
  // A scratch file, thrown away if the process dies: no journal on disk, none to wait for.
  db.pragma('journal_mode = MEMORY');
  const ahead = sharedLog(pages, store, batchSize);
  const runner = new ProjectionRunner({ readAll: ahead.readAll, subscribe: store.subscribe.bind(store) }, db, builtInProjections().filter((p) => names.includes(p.name)), {
    batchSize,
  });
  try {
    // Operator skips live in the read-model file; this one needs them too.
    for (const s of skips as ProjectionSkip[]) recordSkip(db, s.projection, s.position, s.reason);
    await runner.rebuild(names, undefined, { bulkLoad: true });
    return { built: true };
  } catch (err) {
    // A read model stopped on an event: what it holds is consistent with its checkpoint
    // (as on the main thread), so it is still merged; any other failure is not.
    const stopped = names.some((n) => runner.statusOf(n)?.state === 'failed');
    return { built: stopped, error: err instanceof Error ? err.message : String(err) };
  } finally {
    await runner.stop();
    await ahead.close();
    db.close();
    await store.close();
  }
}

run(workerData as SideSettings).then(
  (done) => parentPort!.postMessage(done),
  (err: unknown) => parentPort!.postMessage({ built: false, error: err instanceof Error ? err.message : String(err) } satisfies SideDone),
);
