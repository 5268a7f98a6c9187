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
// which takes no lock that writers or readers wait for. Under steady writes a PASSIVE
// checkpoint may never catch up exactly (so the writer never rewinds the WAL to its start
// and the file keeps growing); above capBytes it therefore also tries a TRUNCATE. The
// connection has no busy timeout, so that never waits for anyone: it runs only if it gets
// the write lock at once, and then holds it for the few frames the PASSIVE pass left.
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

function walSize(file) {
  try {
    return statSync(`${file}-wal`).size;
  } catch (err) {
    if (err && err.code === 'ENOENT') return 0;
    throw err;
  }
}

function checkpoint(file, mode) {
  const started = performance.now();
  const [row] = connection(file).pragma(`wal_checkpoint(${mode})`);
  parentPort.postMessage({ checkpoint: { file, mode, ...row, ms: performance.now() - started } });
}

function tick() {
  for (const file of files) {
    try {
      const size = walSize(file);
      if (size <= thresholdBytes) continue;
      checkpoint(file, 'PASSIVE');
      if (size > capBytes) checkpoint(file, 'TRUNCATE');
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
