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
// Every poll it reads, from the -shm file, how many frames the WAL holds and how many of
// them are already copied into the database (the wal-index header's mxFrame and the
// checkpoint info's nBackfill, https://www.sqlite.org/walformat.html); the -wal's size says
// nothing once the WAL has started over, as the file keeps its largest size. When the frames
// not yet copied pass thresholdBytes it runs a PASSIVE checkpoint, which takes no lock that
// writers or readers wait for: as often as autocheckpoint would, never more. Once every
// frame is copied the writer's next transaction starts the WAL over from its beginning; a
// commit landing during the checkpoint defers that, so should the frames in use still pass
// capBytes, a RESTART is tried: the connection has no busy timeout, so it runs only if it
// gets the write lock at once (it never waits for anyone) and holds it for the frames left.
// When the WAL is idle (not written since the last poll: same size and mtime) and its file
// is large, a TRUNCATE gives the disk space back.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { endianness } from 'node:os';
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

const lastStamp = new Map();
const LE = endianness() === 'LE';
const header = Buffer.alloc(100);

/** Frames in the WAL and frames not yet copied, in bytes, from the wal-index (native byte order). */
function walFrames(file) {
  let fd;
  try {
    fd = openSync(`${file}-shm`, 'r');
  } catch (err) {
    if (err && err.code === 'ENOENT') return { inUse: 0, pending: 0 };
    throw err;
  }
  try {
    if (readSync(fd, header, 0, 100, 0) < 100) return { inUse: 0, pending: 0 };
  } finally {
    closeSync(fd);
  }
  const u32 = (at) => (LE ? header.readUInt32LE(at) : header.readUInt32BE(at));
  const szPage = LE ? header.readUInt16LE(14) : header.readUInt16BE(14);
  const frameBytes = (szPage === 1 ? 65536 : szPage) + 24;
  const mxFrame = u32(16);
  const nBackfill = Math.min(u32(96), mxFrame);
  return { inUse: mxFrame * frameBytes, pending: (mxFrame - nBackfill) * frameBytes };
}

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
      const { inUse, pending } = walFrames(file);
      if (pending > thresholdBytes) checkpoint(file, 'PASSIVE');
      if (inUse > capBytes) checkpoint(file, 'RESTART');
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
