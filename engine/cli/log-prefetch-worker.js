// The thread behind log-prefetch.ts: scans the embedded store's `events` table in position
// order, a page at a time, and posts each page as one JSON text of rows: data and metadata
// are JSON text in the file already and go in as they are, so the main thread receives a
// single string (a copy, not a structured clone of thousands of values) and parses it once. It runs ahead by at most the
// credit the main thread grants (one page per page it took), so what it holds is bounded.
// Plain JavaScript so the compiled CLI and the sources (tsx) start it alike.
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';

const { file, pageSize } = workerData;
let page;
let after = 0;
let credit = 0;
let done = false;

function send() {
  if (!page) {
    // Read only: the rebuild never writes the log, and a read-only connection cannot.
    const db = new Database(file, { readonly: true, fileMustExist: true });
    page = db.prepare('SELECT position, stream, seq, id, type, data, metadata FROM events WHERE position > ? ORDER BY position LIMIT ?').raw();
  }
  while (credit > 0 && !done) {
    const rows = page.all(after, pageSize);
    credit -= 1;
    if (rows.length === 0) done = true;
    else after = rows[rows.length - 1][0];
    parentPort.postMessage({ rows: `[${rows.map(asJson).join(',')}]` });
  }
}

/** A row as a JSON array; data and metadata (JSON already) verbatim. */
function asJson([position, stream, seq, id, type, data, metadata]) {
  return `[${position},${JSON.stringify(stream)},${seq},${JSON.stringify(id)},${JSON.stringify(type)},${data},${metadata}]`;
}

parentPort.on('message', (m) => {
  try {
    if (m.from !== undefined) after = m.from;
    credit += m.credit;
    send();
  } catch (err) {
    // Said to the main thread, which fails the read it waits for (never an unhandled throw here).
    done = true;
    parentPort.postMessage({ error: err instanceof Error ? err.message : String(err) });
  }
});
