/**
 * `parley import`: loads a log file (see log-file.ts) into an empty event store, keeping
 * every position, stream, seq and idempotency record, so history, seqs and retried
 * command ids behave exactly as they did where the file came from.
 *
 * All of it goes in one transaction: a bad line anywhere rolls everything back.
 */
import { createReadStream, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { SqliteEventStore } from '../store/index.js';
import { dataDirFiles } from './data-dir.js';
import { LogFileReader } from './log-file.js';
import { elapsed, progressBar } from './progress.js';

const HELP = `usage: parley import [--in FILE|-] [--data-dir DIR]

Loads a file written by parley export into the event store of DATA_DIR, which must be
empty (no events, no idempotency records). Positions, seqs and idempotency records are
kept. Every line is checked first-to-last inside one transaction; a bad line is reported
with its number and nothing is imported. Read models in DATA_DIR are removed, so the node
rebuilds them on start. --in - (the default) reads stdin. Run it while the node is stopped.
`;

export async function importLog(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { in: { type: 'string', short: 'i', default: '-' }, 'data-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) return void process.stdout.write(HELP);
  const files = dataDirFiles(values['data-dir']);
  const source = values.in!;
  if (source !== '-' && !existsSync(source)) throw new Error(`no such file: ${source}`);
  mkdirSync(files.dir, { recursive: true });
  const created = !existsSync(files.events);
  const store = new SqliteEventStore({ file: files.events });
  const db = store.db;
  const started = performance.now();
  const reader = new LogFileReader();
  let ok = false;
  try {
    db.exec('BEGIN IMMEDIATE');
    try {
      const events = db.prepare('SELECT count(*) FROM events').pluck().get() as number;
      const keys = db.prepare('SELECT count(*) FROM idempotency').pluck().get() as number;
      if (events > 0 || keys > 0) {
        throw new Error(`the event store at ${files.events} is not empty (${events} events, ${keys} idempotency records); import only into an empty data directory`);
      }
      const insertEvent = db.prepare('INSERT INTO events (position, stream, seq, id, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)');
      const insertKey = db.prepare('INSERT INTO idempotency (key, fingerprint, result) VALUES (?, ?, ?)');
      const input = source === '-' ? process.stdin : createReadStream(source);
      const lines = createInterface({ input, crlfDelay: Infinity });
      const bar = progressBar('import', source === '-' ? 0 : statSync(source).size);
      let read = 0;
      for await (const text of lines) {
        read += Buffer.byteLength(text) + 1;
        bar.update(read);
        const line = reader.read(text);
        if (line?.kind === 'event') {
          insertEvent.run(line.position, line.stream, line.seq, line.id, line.type, JSON.stringify(line.data), JSON.stringify(line.metadata));
        } else if (line?.kind === 'idempotency') {
          insertKey.run(line.key, line.fingerprint, JSON.stringify(line.result));
        }
      }
      bar.finish();
      reader.end();
      db.exec('COMMIT');
      ok = true;
    } finally {
      if (!ok) db.exec('ROLLBACK');
    }
  } finally {
    await store.close();
    if (!ok && created) for (const suffix of ['', '-wal', '-shm']) rmSync(files.events + suffix, { force: true });
  }
  // Read models of the (empty) store that was here describe nothing; the node rebuilds them.
  let removedReadModels = false;
  for (const suffix of ['', '-wal', '-shm']) {
    if (existsSync(files.readModels + suffix)) {
      rmSync(files.readModels + suffix, { force: true });
      removedReadModels = true;
    }
  }
  process.stdout.write(
    `imported ${reader.events} events and ${reader.idempotency} idempotency records from ${source === '-' ? 'stdin' : source} into ${files.events} in ${elapsed(started)}` +
      `${removedReadModels ? '; removed the old read models, the node rebuilds them on start' : ''}\n`,
  );
}
