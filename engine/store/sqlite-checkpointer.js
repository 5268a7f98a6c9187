// The embedded store's WAL checkpointer thread. The writer connection never checkpoints
// (wal_autocheckpoint = 0: a checkpoint inside a commit made that commit ~4 ms instead of
// ~0.25 ms); this thread does it on a connection of its own, off the commit path.
//
// Every `intervalMs` it runs a PASSIVE checkpoint: it copies what it can without waiting
// for anyone (a no-op when the WAL has nothing new), and when all of the WAL was copied
// before the next commit the writer starts it over from the beginning, cut back to
// `journal_size_limit`. Under sustained commits that rarely happens (commits land while
// the checkpoint fsyncs), and readers can hold the WAL too; so once the file passes
// `hardBytes` a TRUNCATE follows the PASSIVE one: it waits (at most BUSY_MS, holding new
// commits back meanwhile) for the readers, copies the few frames the PASSIVE one missed
// and empties the file. The WAL stays bounded. A TRUNCATE that finds a reader still
// holding the WAL is tried again only after a back-off (doubling up to TRUNCATE_BACKOFF_MS):
// retried every tick it held commits back 250 ms of every 300, and CI saw a commit give up
// on the lock (SQLITE_BUSY) while a long read went on.
//
// Plain JavaScript on purpose: worker threads do not inherit the TypeScript loader.
//
// Out (on parentPort): { ready: true } once the connection is open, then one report per
// checkpoint that did something or failed:
//   { mode: 'PASSIVE' | 'TRUNCATE', walBytes, log, checkpointed, busy, ms }
//   { error, code, mode }   (the next tick tries again: a failure never ends the thread)
// In: 'stop' (closes the connection and ends the thread).
import { statSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

/** How long a TRUNCATE checkpoint waits for readers (and makes commits wait for it). */
const BUSY_MS = 250;
/** The longest wait before a TRUNCATE that found readers is tried again. */
const TRUNCATE_BACKOFF_MS = 4000;

const { file, intervalMs, hardBytes } = workerData;
const walFile = `${file}-wal`;
const db = new Database(file);
db.pragma(`busy_timeout = ${BUSY_MS}`);
db.pragma('wal_autocheckpoint = 0');
db.pragma(`journal_size_limit = ${workerData.journalSizeLimit}`);
/** Frames of the WAL copied by the last checkpoint: an unchanged count is not reported again. */
let lastLog = -1;
let lastCheckpointed = -1;
let timer;
/** When a TRUNCATE may be tried next, and how long the next back-off is. */
let truncateAt = 0;
let truncateBackoff = 0;

const walSize = () => statSync(walFile, { throwIfNoEntry: false })?.size ?? 0;

/** Runs one checkpoint and reports it (unless it is a PASSIVE one that found nothing new). */
function run(mode, walBytes) {
  const started = performance.now();
  const { busy, log, checkpointed } = db.pragma(`wal_checkpoint(${mode})`)[0];
  const ms = performance.now() - started;
  if (mode === 'PASSIVE' && log === lastLog && checkpointed === lastCheckpointed) return;
  lastLog = log;
  lastCheckpointed = checkpointed;
  parentPort.postMessage({ mode, walBytes, log, checkpointed, busy, ms });
  return busy;
}

/** A busy TRUNCATE backs off (commits wait for it); one that went through resets it. */
function truncate() {
  if (performance.now() < truncateAt) return;
  if (run('TRUNCATE', walSize()) === 0) {
    truncateBackoff = 0;
    return;
  }
  truncateBackoff = Math.min(Math.max(truncateBackoff * 2, intervalMs * 4), TRUNCATE_BACKOFF_MS);
  // From the end of this attempt: it just waited up to BUSY_MS.
  truncateAt = performance.now() + truncateBackoff;
}

function checkpoint() {
  const walBytes = walSize();
  if (walBytes === 0) return;
  let mode = 'PASSIVE';
  try {
    run(mode, walBytes);
    if (walBytes <= hardBytes) return;
    // The PASSIVE one just copied nearly all of it without holding anyone up, so the
    // TRUNCATE, which holds commits back, copies only what came in meanwhile.
    mode = 'TRUNCATE';
    truncate();
  } catch (err) {
    const code = err && typeof err === 'object' && typeof err.code === 'string' ? err.code : undefined;
    parentPort.postMessage({ mode, error: err instanceof Error ? err.message : String(err), code });
  }
}

function tick() {
  try {
    checkpoint();
  } catch (err) {
    // statSync failing (the directory gone for a moment): said, and tried again next tick.
    parentPort.postMessage({ mode: 'PASSIVE', error: err instanceof Error ? err.message : String(err), code: err?.code });
  }
  timer = setTimeout(tick, intervalMs);
}

parentPort.on('message', (msg) => {
  if (msg !== 'stop') return;
  clearTimeout(timer);
  db.close();
  parentPort.close();
});

parentPort.postMessage({ ready: true });
timer = setTimeout(tick, intervalMs);
