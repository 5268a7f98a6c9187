/**
 * Reading a log file for `parley import`, twice: once to check every line (so a bad line
 * anywhere imports nothing, through a store that cannot roll back a whole import), then
 * again to load it. Standard input cannot be read twice, so it is copied to a temporary
 * file first.
 */
import { createReadStream, createWriteStream, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream/promises';
import type { StoredEvent } from '../store/index.js';
import { LogFileReader, type LogLine } from './log-file.js';
import { progressBar } from './progress.js';

export interface LogFileInput {
  /** The file to read (stdin's copy for `-`). */
  file: string;
  /** What to call it in messages. */
  name: string;
  /** Removes the copy of stdin, if one was made. */
  dispose(): void;
}

export async function logFileInput(source: string): Promise<LogFileInput> {
  if (source !== '-') {
    if (!existsSync(source)) throw new Error(`no such file: ${source}`);
    return { file: source, name: source, dispose() {} };
  }
  const dir = mkdtempSync(join(tmpdir(), 'parley-import-'));
  const file = join(dir, 'stdin.ndjson');
  try {
    await pipeline(process.stdin, createWriteStream(file));
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return { file, name: 'stdin', dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Every line of the file, checked (LogFileReader); throws LogFileError naming the first
 * bad line. `reader` (a fresh one by default) is there to ask what the header said.
 */
export async function* logLines(file: string, label: string, reader = new LogFileReader()): AsyncGenerator<LogLine> {
  const bar = progressBar(label, statSync(file).size);
  let read = 0;
  try {
    for await (const text of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
      read += Buffer.byteLength(text) + 1;
      bar.update(read);
      const line = reader.read(text);
      if (line) yield line;
    }
    reader.end();
  } finally {
    bar.finish();
  }
}

/**
 * Checks the whole file; returns its counts and the partition count of the log it came
 * from. `onEvent` sees every event (import's erasure pass).
 */
export async function checkLogFile(file: string, onEvent?: (e: StoredEvent) => void): Promise<{ events: number; idempotency: number; partitions: number }> {
  let events = 0;
  let idempotency = 0;
  const reader = new LogFileReader();
  for await (const line of logLines(file, 'check', reader)) {
    if (line.kind === 'event') {
      events += 1;
      onEvent?.(line);
    } else if (line.kind === 'idempotency') idempotency += 1;
  }
  return { events, idempotency, partitions: reader.partitions };
}
