// The embedded store's writer thread. It owns the write connection and commits batches
// of appends with synchronous=FULL, so the fsync happens here while the node's main
// thread keeps serving sockets (and gathering the next batch).
//
// Plain JavaScript on purpose: worker threads do not inherit the TypeScript loader.
//
// Batches come on their own MessagePort (workerData.batches), so that after a commit this
// thread can take every batch that queued meanwhile (receiveMessageOnPort) and commit
// them together at once: the next transaction starts as soon as the previous fsync
// returns, without waiting for the main thread to hear back and send more.
//
// In (on workerData.batches), as a list of strings (one copy each between the threads):
//   [header, ...texts], header the JSON text of
//   { n, seen, appends: [{ stream, expected: number | 'any', key?, legacyKey?, fingerprint?, events: [{ id, type }],
//                          patches?: [{ seq, patch }] }] }
//   and texts, in the header's order, per append: each event's data then its metadata, then
//   the idempotency result when it has a key: JSON text stored as it comes (serialized once,
//   on the main thread; never parsed or re-serialized here).
//   (n numbers the batches 1, 2, …; seen is the last n whose results the main thread had
//   handled when it sent this batch; patches are JSON merge patches applied to earlier
//   events of the same stream, in the append's transaction: an erasure rewrites the content
//   it erases, or nothing happens)
// Out: { ready: true } on parentPort once the connection is open, then per transaction on
// the batch port (so the main thread can take every answer that queued up at once, too)
//   { ms, results: [per batch committed in it, in order:
//     { n, outcomes: [{ version, firstSeq, firstPosition } | { duplicate: { key, fingerprint, result }, version }
//                     | { conflict: actual } | { error, code }] }
//     or { n, error, code } when the whole transaction rolled back] }
//   (code: SQLITE_FULL, SQLITE_IOERR_…, ENOSPC…, so the store can tell a full or failing
//   disk from a bug; ms: the time this thread spent in the transaction, its fsync included,
//   so an append's wait can be told apart from the queue and the hand-offs around it).
//
// Appends with an expected version queued behind one that failed (a conflict, a duplicate
// with events, or a rolled-back batch) on the same stream fail too: they were decided on
// top of its events. "Behind" spans batches: a batch sent before the main thread knew of
// the failure (its `seen` is older than the failing batch) is behind it; one sent after
// was gathered on fresh state (the main thread failed its own queue when it heard).
//
// A failed transaction leaves nothing behind: it is rolled back (SQLite does it itself
// for SQLITE_FULL and I/O errors; we make sure), the cached versions are dropped and the
// head is read again, and the next batch starts on a clean connection. So when the disk
// has room again the very next batch commits: the thread never stays wedged.
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const db = new Database(workerData.file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.pragma('busy_timeout = 5000');
// No checkpoint inside a commit (one made that commit ~4 ms instead of ~0.25 ms): the
// checkpointer thread runs them on its own connection (sqlite-checkpointer.js). A WAL
// that starts over after one is cut back to this size.
db.pragma('wal_autocheckpoint = 0');
// An erasure rewrites an event's payload in place (AppendOptions.patches): the bytes it
// replaces are zeroed in the page, not left in free space. The log never deletes rows
// otherwise, so this costs nothing else.
db.pragma('secure_delete = ON');
db.pragma(`journal_size_limit = ${workerData.journalSizeLimit}`);
const insert = db.prepare('INSERT INTO events (position, stream, seq, id, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)');
const versionOf = db.prepare('SELECT max(seq) FROM events WHERE stream = ?').pluck();
const findKey = db.prepare('SELECT fingerprint, result FROM idempotency WHERE key = ?');
const insertKey = db.prepare('INSERT INTO idempotency (key, fingerprint, result) VALUES (?, ?, ?)');
const patchEvent = db.prepare('UPDATE events SET data = json_patch(data, ?) WHERE stream = ? AND seq = ?');
const versions = new Map();
const headOf = db.prepare('SELECT max(position) FROM events').pluck();
let head = headOf.get() ?? 0;
/** stream → { n, failure? }: the last batch in which a dependent append on it failed. */
const brokenAt = new Map();
const batches = workerData.batches;
parentPort.postMessage({ ready: true });

function currentVersion(stream, staged) {
  let v = staged.get(stream) ?? versions.get(stream);
  if (v === undefined) {
    v = versionOf.get(stream) ?? 0;
    versions.set(stream, v);
  }
  return v;
}

/** The recorded idempotency record of the append's key or, failing that, its legacy key. */
function priorRecord(req) {
  if (!req.key) return undefined;
  for (const key of req.legacyKey ? [req.key, req.legacyKey] : [req.key]) {
    const row = findKey.get(key);
    if (row) return { key, fingerprint: row.fingerprint, result: row.result };
  }
  return undefined;
}

/**
 * A batch as the header says, each append given `texts` (the message) and `at`, the index
 * of its first text there; appends after one that stages nothing still find theirs.
 */
function decodeBatch(message) {
  const batch = JSON.parse(message[0]);
  let at = 1;
  for (const req of batch.appends) {
    req.texts = message;
    req.at = at;
    at += req.events.length * 2 + (req.key ? 1 : 0);
  }
  return batch;
}

/** Stages one append in the open transaction and says how it went. */
function stage(req, batch, staged, cursor) {
  const current = currentVersion(req.stream, staged);
  const dependent = req.expected !== 'any';
  const broken = dependent ? brokenAt.get(req.stream) : undefined;
  if (broken && broken.n > batch.seen) {
    if (broken.n !== batch.n) brokenAt.set(req.stream, { n: batch.n, failure: broken.failure });
    return broken.failure ?? { conflict: current };
  }
  const prior = priorRecord(req);
  if (prior) {
    if (dependent && req.events.length > 0) brokenAt.set(req.stream, { n: batch.n });
    return { duplicate: prior, version: current };
  }
  if (dependent && req.expected !== current) {
    brokenAt.set(req.stream, { n: batch.n });
    return { conflict: current };
  }
  const firstPosition = cursor.position + 1;
  let seq = current;
  let at = req.at;
  for (const e of req.events) {
    seq += 1;
    cursor.position += 1;
    insert.run(cursor.position, req.stream, seq, e.id, e.type, req.texts[at], req.texts[at + 1]);
    at += 2;
  }
  for (const p of req.patches ?? []) patchEvent.run(JSON.stringify(p.patch), req.stream, p.seq);
  if (req.key) insertKey.run(req.key, req.fingerprint, req.texts[at]);
  staged.set(req.stream, seq);
  return { version: seq, firstSeq: current + 1, firstPosition };
}

/**
 * Stages the batches of a group, in the transaction it is called in. Made once: making the
 * transaction function anew per commit cost ~8 µs of CPU per transaction (a one-row
 * transaction on an in-memory table: 10.7-13.7 µs so, 2.4-3.8 µs made once).
 */
const stageGroup = db.transaction((group, staged, cursor) =>
  group.map((batch) => ({ n: batch.n, outcomes: batch.appends.map((req) => stage(req, batch, staged, cursor)) })),
);

/** Commits the batches in one transaction; on failure none of them is in the log. */
function commit(group) {
  const staged = new Map();
  const cursor = { position: head };
  let results;
  try {
    // IMMEDIATE: the write lock is taken (waiting for it within busy_timeout) before anything
    // is read, so another connection's write never fails the batch with SQLITE_BUSY midway.
    results = stageGroup.immediate(group, staged, cursor);
  } catch (err) {
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
      // Unreadable for now: the head of the last good transaction is still right.
    }
    const code = err && typeof err === 'object' && typeof err.code === 'string' ? err.code : undefined;
    const failure = { error: err instanceof Error ? err.message : String(err), code };
    for (const batch of group) {
      for (const req of batch.appends) if (req.expected !== 'any') brokenAt.set(req.stream, { n: batch.n, failure });
    }
    return group.map((batch) => ({ n: batch.n, ...failure }));
  }
  head = cursor.position;
  for (const [stream, v] of staged) versions.set(stream, v);
  return results;
}

/** Forgets failures every batch still to come was sent knowing of. */
function forgetKnownFailures(seen) {
  for (const [stream, broken] of brokenAt) if (broken.n <= seen) brokenAt.delete(stream);
}

batches.on('message', (first) => {
  const group = [decodeBatch(first)];
  for (let next = receiveMessageOnPort(batches); next; next = receiveMessageOnPort(batches)) group.push(decodeBatch(next.message));
  const started = performance.now();
  const results = commit(group);
  const ms = performance.now() - started;
  forgetKnownFailures(group[group.length - 1].seen);
  batches.postMessage({ results, ms });
});
