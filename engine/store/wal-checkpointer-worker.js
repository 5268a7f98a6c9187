// The WAL checkpointer's thread (see wal-checkpointer.ts for why it exists).
//
// Plain JavaScript on purpose: worker threads do not inherit the TypeScript loader.
//
// In (workerData): { files: string[], thresholdBytes, capBytes, intervalMs }
// In (message):    'stop' — close the connections and exit.
// Out: { checkpoint: { file, mode, busy, log, checkpointed, ms } } after each checkpoint,
//      { error, code, file } when one failed (a full disk, an unreadable file): it is
//      tried again on the next poll with a fresh connection, the thread never dies of it.
//
// Every poll it stats each file's -wal; above thresholdBytes it runs a PASSIVE checkpoint,
// which takes no lock that writers or readers wait for. The writer starts the WAL over from
// its beginning only if its next transaction finds every frame copied, so a commit that
// lands during the checkpoint defers that: while a pass caught up but the WAL did not start
// over, another pass runs at once (a short one: only the frames committed meanwhile), a few
// times at most. Should the frames in the WAL still pass capBytes, a RESTART is tried: the connection has
// no busy timeout, so it runs only if it gets the write lock at once (never waits for
// anyone) and holds it for the frames left. When the WAL is idle (not written since the
// last poll: same size and mtime) and large, a TRUNCATE gives the disk space back.
import { statSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const { files, thresholdBytes, capBytes, intervalMs } = workerData;
const connections = new Map();

function connection(file) {
  let db = connections.get(file);
  if (!db) {
    // timeout 0: a checkpoint that cannot get a lock gives up instead of waiting.
    db = new Database(file, { fileMustExist: true, timeout: 0 });
    connections.set(file, db);
  }
  return db;
}

/** The -wal's size, and a stamp that changes with every write to it (the WAL starting over keeps the size). */
function walState(file) {
  try {
    const s = statSync(`${file}-wal`, { bigint: true });
    return { size: Number(s.size), stamp: `${s.size}:${s.mtimeNs}` };
  } catch (err) {
    if (err && err.code === 'ENOENT') return { size: 0, stamp: '' };
    throw err;
  }
}

const EXTRA_PASSES = 3;
const lastStamp = new Map();

function checkpoint(file, mode) {
  const started = performance.now();
  const [row] = connection(file).pragma(`wal_checkpoint(${mode})`);
  parentPort.postMessage({ checkpoint: { file, mode, ...row, ms: performance.now() - started } });
  return row;
}

function tick() {
  for (const file of files) {
    try {
      const { size, stamp } = walState(file);
      const idle = stamp === lastStamp.get(file);
      lastStamp.set(file, stamp);
      if (size <= thresholdBytes) continue;
      if (idle) {
        checkpoint(file, 'TRUNCATE');
        lastStamp.set(file, walState(file).stamp);
        continue;
      }
      let row = checkpoint(file, 'PASSIVE');
      // Caught up, and the frame count did not drop (the WAL did not start over): again.
      for (let pass = 0; pass < EXTRA_PASSES && row.log > 0 && row.checkpointed === row.log; pass++) {
        const next = checkpoint(file, 'PASSIVE');
        const restarted = next.log < row.log;
        row = next;
        if (restarted) break;
      }
      // The frames in use (the file keeps its largest size when the WAL starts over).
      const frameBytes = connection(file).pragma('page_size', { simple: true }) + 24;
      if (row.log * frameBytes > capBytes) checkpoint(file, 'RESTART');
    } catch (err) {
      const code = err && typeof err === 'object' && typeof err.code === 'string' ? err.code : undefined;
      parentPort.postMessage({ error: err instanceof Error ? err.message : String(err), code, file });
      // A fresh connection next time: this one may be in a state we do not know.
      try {
        connections.get(file)?.close();
      } catch {
        // Closing a broken connection may fail too; it is dropped either way.
      }
      connections.delete(file);
    }
  }
}

const timer = setInterval(tick, intervalMs);

parentPort.on('message', (msg) => {
  if (msg !== 'stop') return;
  clearInterval(timer);
  for (const db of connections.values()) {
    try {
      db.close();
    } catch {
      // Nothing more to do for it.
    }
  }
  connections.clear();
  parentPort.close();
});
