/**
 * `parley export`: writes the whole log (events in position order, then idempotency
 * records) as a log file (see log-file.ts), through the EventStore port, so it reads a
 * cluster's JetStream stream as it reads a data directory. It reads one snapshot (up to a
 * head cursor), so it may run while nodes serve: events committed after the export
 * started are not in the file. A partitioned log is written with its partition count and
 * that cursor in the header, each partition's events in its order.
 */
import { createReadStream, createWriteStream, mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { headCursorOf, type EventStore } from '../store/index.js';
import { dataDirFiles } from './data-dir.js';
import { eventsByPartition } from './log-scan.js';
import { eventLine, headerLine, idempotencyLine, trailerLine } from './log-file.js';
import { openLog } from './open-log.js';
import { bytes, cursorProgress, elapsed, writeLine } from './progress.js';

const HELP = `usage: parley export [--out FILE|-] [--data-dir DIR | --nats URLS]

Writes the event log of DATA_DIR — or, with --nats URLS (or NATS_URL, and PARLEY_STREAM),
of the cluster's JetStream stream — as NDJSON: a header line, every event in position
order ({"kind":"event",position,stream,seq,id,type,data,metadata}), every idempotency
record in key order ({"kind":"idempotency",key,fingerprint,result}) and an "end" line with
the counts. On a partitioned log (PARLEY_PARTITIONS > 1) the file is version 2: the header
names the partition count and the cursor the file covers, and events are in position
order per partition. --out - (the default) writes to stdout; a FILE is written beside
itself and renamed when complete. Safe while nodes run (one consistent snapshot). Restore with
parley import.
`;

export async function exportLog(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      out: { type: 'string', short: 'o', default: '-' },
      'data-dir': { type: 'string' },
      nats: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void process.stdout.write(HELP);
  const { store, where } = await openLog(dataDirFiles(values['data-dir']), values.nats);
  const toStdout = values.out === '-';
  const target = values.out!;
  const partial = `${target}.partial-${process.pid}`;
  const out: NodeJS.WritableStream = toStdout ? process.stdout : createWriteStream(partial);
  const started = performance.now();
  let counts: { events: number; keys: number; written: number };
  try {
    counts = await writeLog(store, out);
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
  const summary = `exported ${counts.events} events and ${counts.keys} idempotency records (${bytes(counts.written)}) from ${where} to ${toStdout ? 'stdout' : target} in ${elapsed(started)}\n`;
  (toStdout ? process.stderr : process.stdout).write(summary);
}

async function writeLog(store: EventStore, out: NodeJS.WritableStream): Promise<{ events: number; keys: number; written: number }> {
  let written = 0;
  const put = async (line: string) => {
    written += Buffer.byteLength(line) + 1;
    await writeLine(out, line);
  };
  // Keys before the head: a key is recorded with its events, so every key listed now has
  // its events at or below the head read next. Listing keys after the events could take
  // in a key whose command came after the head, and an import would then answer a retry
  // of it with a seq its log does not have. They wait in a file, not in memory.
  const keys = await spoolKeys(store);
  try {
    const head = await headCursorOf(store);
    await put(headerLine(head));
    const bar = cursorProgress('export', head);
    let events = 0;
    for await (const page of eventsByPartition(store, head)) {
      for (const e of page) await put(eventLine(e));
      events += page.length;
      bar.advance(page);
    }
    bar.finish();
    await pipeline(createReadStream(keys.file), out, { end: false });
    written += statSync(keys.file).size;
    await put(trailerLine(events, keys.count));
    return { events, keys: keys.count, written };
  } finally {
    keys.dispose();
  }
}

/** Every idempotency record as a log-file line, in a temporary file. */
async function spoolKeys(store: EventStore): Promise<{ file: string; count: number; dispose: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-export-'));
  const dispose = () => rmSync(dir, { recursive: true, force: true });
  const file = join(dir, 'idempotency.ndjson');
  const spool = createWriteStream(file);
  let count = 0;
  try {
    for await (const record of store.idempotencyRecords()) {
      await writeLine(spool, idempotencyLine(record));
      count += 1;
    }
    spool.end();
    await once(spool, 'finish');
    return { file, count, dispose };
  } catch (err) {
    spool.destroy();
    dispose();
    throw err;
  }
}
