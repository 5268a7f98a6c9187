// The embedded store's writer thread. It owns the write connection and commits each batch
// of appends in one transaction with synchronous=FULL, so the fsync happens here while the
// node's main thread keeps serving sockets (and gathering the next batch).
//
// Plain JavaScript on purpose: worker threads do not inherit the TypeScript loader.
//
// In:  [{ stream, expected: number | 'any', key?, fingerprint?, result?, events: [{ id, type, data, metadata }] }]
//      (data, metadata and result are JSON text)
// Out: { ready: true } once the connection is open, then per batch
//      { outcomes: [{ version, firstSeq, firstPosition } | { duplicate: { fingerprint, result }, version } | { conflict: actual }] }
//      or { error, code } when the whole transaction rolled back (code: SQLITE_FULL,
//      SQLITE_IOERR_…, ENOSPC…, so the store can tell a full or failing disk from a bug).
//
// A failed batch leaves nothing behind: the transaction is rolled back (SQLite does it
// itself for SQLITE_FULL and I/O errors; we make sure), the cached versions are dropped and
// the head is read again, and the next batch starts on a clean connection. So when the disk
// has room again the very next batch commits: the thread never stays wedged.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const db = new Database(workerData.file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.pragma('busy_timeout = 5000');
const insert = db.prepare('INSERT INTO events (position, stream, seq, id, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)');
const versionOf = db.prepare('SELECT max(seq) FROM events WHERE stream = ?').pluck();
const findKey = db.prepare('SELECT fingerprint, result FROM idempotency WHERE key = ?');
const insertKey = db.prepare('INSERT INTO idempotency (key, fingerprint, result) VALUES (?, ?, ?)');
const versions = new Map();
const headOf = db.prepare('SELECT max(position) FROM events').pluck();
let head = headOf.get() ?? 0;
parentPort.postMessage({ ready: true });

function currentVersion(stream, staged) {
  let v = staged.get(stream) ?? versions.get(stream);
  if (v === undefined) {
    v = versionOf.get(stream) ?? 0;
    versions.set(stream, v);
  }
  return v;
}

parentPort.on('message', (batch) => {
  const staged = new Map();
  // Streams where an append with an expected version failed or was a duplicate: the
  // appends behind it were decided on top of its events and fail too.
  const broken = new Map();
  const outcomes = [];
  let position = head;
  try {
    db.transaction(() => {
      for (const req of batch) {
        const current = currentVersion(req.stream, staged);
        const dependent = req.expected !== 'any';
        if (dependent && broken.has(req.stream)) {
          outcomes.push({ conflict: current });
          continue;
        }
        const prior = req.key ? findKey.get(req.key) : undefined;
        if (prior) {
          if (dependent && req.events.length > 0) broken.set(req.stream, true);
          outcomes.push({ duplicate: prior, version: current });
          continue;
        }
        if (dependent && req.expected !== current) {
          broken.set(req.stream, true);
          outcomes.push({ conflict: current });
          continue;
        }
        const firstPosition = position + 1;
        let seq = current;
        for (const e of req.events) {
          seq += 1;
          position += 1;
          insert.run(position, req.stream, seq, e.id, e.type, e.data, e.metadata);
        }
        if (req.key) insertKey.run(req.key, req.fingerprint, req.result);
        staged.set(req.stream, seq);
        outcomes.push({ version: seq, firstSeq: current + 1, firstPosition });
      }
    })();
  } catch (err) {
    // Rolled back: nothing of the batch is in the log, and cached versions may be wrong.
    if (db.inTransaction) {
      try {
        db.exec('ROLLBACK');
      } catch {
        // Already rolled back by SQLite (it does so itself after SQLITE_FULL / I/O errors).
      }
    }
    versions.clear();
    try {
      head = headOf.get() ?? 0;
    } catch {
      // Unreadable for now: the head of the last good batch is still right.
    }
    const code = err && typeof err === 'object' && typeof err.code === 'string' ? err.code : undefined;
    parentPort.postMessage({ error: err instanceof Error ? err.message : String(err), code });
    return;
  }
  head = position;
  for (const [stream, v] of staged) versions.set(stream, v);
  parentPort.postMessage({ outcomes });
});
