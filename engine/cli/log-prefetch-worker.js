// The thread behind log-prefetch.ts: scans the embedded store's `events` table in position
// order, a page at a time, and posts each page as one JSON text of rows: data and metadata
// are JSON text in the file already and go in as they are, so a reader receives a
// single string (a copy, not a structured clone of thousands of values) and parses it once.
// Its readers: the thread that started it, and any given ports (`sharedLog`, another
// thread rebuilding other read models from the same pages): the log is scanned once for
// all. It runs ahead by at most the credit every reader still reading grants (one page per
// page it took), so what it holds is bounded; a reader that is done says so (`drop`) and
// no longer holds the others back.
// Plain JavaScript so the compiled CLI and the sources (tsx) start it alike.
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';

const { file, pageSize, ports = [] } = workerData;
const readers = [parentPort, ...ports].map((port) => ({ port, credit: 0, started: false, reading: true }));
let page;
let after;
let done = false;

function send() {
  if (!page) {
    // Read only: the rebuild never writes the log, and a read-only connection cannot.
    const db = new Database(file, { readonly: true, fileMustExist: true });
    page = db.prepare('SELECT position, stream, seq, id, type, data, metadata FROM events WHERE position > ? ORDER BY position LIMIT ?').raw();
  }
  for (;;) {
    const reading = readers.filter((r) => r.reading);
    // Every reader still reading has started (from the same place) and wants a page.
    if (done || reading.length === 0 || reading.some((r) => !r.started || r.credit === 0)) return;
    const rows = page.all(after, pageSize);
    if (rows.length === 0) done = true;
    else after = rows[rows.length - 1][0];
    const text = `[${rows.map(asJson).join(',')}]`;
    for (const r of reading) {
      r.credit -= 1;
      r.port.postMessage({ rows: text });
    }
  }
}

/** A row as a JSON array; data and metadata (JSON already) verbatim. */
function asJson([position, stream, seq, id, type, data, metadata]) {
  return `[${position},${JSON.stringify(stream)},${seq},${JSON.stringify(id)},${JSON.stringify(type)},${data},${metadata}]`;
}

for (const reader of readers) {
  reader.port.on('message', (m) => {
    try {
      // A reader done, or (from the thread that started this one) a shared reader whose thread ended.
      if (m.drop) (m.reader === undefined ? reader : readers[m.reader] ?? reader).reading = false;
      if (m.from !== undefined) {
        // Pages are shared: every reader starts where the first did.
        if (after !== undefined && m.from !== after) throw new Error(`shared read-ahead started at ${after}, asked from ${m.from}`);
        after ??= m.from;
        reader.started = true;
      }
      reader.credit += m.credit ?? 0;
      send();
    } catch (err) {
      fail(err);
    }
  });
  // A reader's thread that ended (a port closed) reads no more.
  if (reader.port !== parentPort) reader.port.on('close', () => ((reader.reading = false), trySend()));
}

function trySend() {
  try {
    send();
  } catch (err) {
    fail(err);
  }
}

/** Said to the readers, which fail the read they wait for (never an unhandled throw here). */
function fail(err) {
  done = true;
  for (const r of readers) if (r.reading) r.port.postMessage({ error: err instanceof Error ? err.message : String(err) });
}

