/**
 * `parley export`: writes the whole log (events in position order, then idempotency
 * records) as a log file (see log-file.ts). It reads one snapshot, so it may run while the
 * node is serving: events committed after the export started are not in the file.
 */
import { createWriteStream, renameSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { dataDirFiles, openExistingStore } from './data-dir.js';
import { eventLine, headerLine, idempotencyLine, trailerLine } from './log-file.js';
import { bytes, elapsed, progressBar, writeLine } from './progress.js';
import type { EventRow, IdempotencyRecord } from '../store/index.js';

const HELP = `usage: parley export [--out FILE|-] [--data-dir DIR]

Writes the event log of DATA_DIR as NDJSON: a header line, every event in position order
({"kind":"event",position,stream,seq,id,type,data,metadata}), every idempotency record
({"kind":"idempotency",key,fingerprint,result}) and an "end" line with the counts.
--out - (the default) writes to stdout; a FILE is written beside itself and renamed when
complete. Safe while the node runs (one consistent snapshot). Restore with parley import.
`;

export async function exportLog(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { out: { type: 'string', short: 'o', default: '-' }, 'data-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) return void process.stdout.write(HELP);
  const files = dataDirFiles(values['data-dir']);
  const store = openExistingStore(files);
  const toStdout = values.out === '-';
  const target = values.out!;
  const partial = `${target}.partial-${process.pid}`;
  const out: NodeJS.WritableStream = toStdout ? process.stdout : createWriteStream(partial);
  const started = performance.now();
  const db = store.db;
  let events = 0;
  let keys = 0;
  let written = 0;
  try {
    // One read transaction: a consistent snapshot even while a node appends.
    db.exec('BEGIN');
    try {
      const head = (db.prepare('SELECT max(position) FROM events').pluck().get() as number | null) ?? 0;
      const total = db.prepare('SELECT count(*) FROM events').pluck().get() as number;
      const bar = progressBar('export', total);
      const put = async (line: string) => {
        written += Buffer.byteLength(line) + 1;
        await writeLine(out, line);
      };
      await put(headerLine(head));
      for (const row of db.prepare('SELECT * FROM events ORDER BY position').iterate() as IterableIterator<EventRow>) {
        await put(eventLine({ ...row, data: JSON.parse(row.data), metadata: JSON.parse(row.metadata) }));
        events += 1;
        bar.update(events);
      }
      bar.finish();
      for (const row of db.prepare('SELECT key, fingerprint, result FROM idempotency ORDER BY key').iterate() as IterableIterator<{ key: string; fingerprint: string; result: string }>) {
        const record: IdempotencyRecord = { key: row.key, fingerprint: row.fingerprint, result: JSON.parse(row.result) };
        await put(idempotencyLine(record));
        keys += 1;
      }
      await put(trailerLine(events, keys));
    } finally {
      db.exec('COMMIT');
    }
    if (!toStdout) {
      out.end();
      await once(out, 'finish');
      renameSync(partial, target);
    }
  } catch (err) {
    if (!toStdout) {
      out.end();
      rmSync(partial, { force: true });
    }
    throw err;
  } finally {
    await store.close();
  }
  // With --out - the log is on stdout, so the summary goes to stderr.
  const summary = `exported ${events} events and ${keys} idempotency records (${bytes(written)}) from ${files.events} to ${toStdout ? 'stdout' : target} in ${elapsed(started)}\n`;
  (toStdout ? process.stderr : process.stdout).write(summary);
}
