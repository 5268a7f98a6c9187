/**
 * Where the CLI finds a node's files. Unlike the node's own config loader this creates
 * nothing: read-only commands (stats, verify, replay, export) must not leave a fresh
 * jwt-secret or an empty store behind when pointed at the wrong directory.
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SqliteEventStore } from '../store/index.js';

export interface DataDirFiles {
  dir: string;
  events: string;
  readModels: string;
}

/** --data-dir, else DATA_DIR, else ./data (the node's default). */
export function dataDirFiles(flag: string | undefined, env: Record<string, string | undefined> = process.env): DataDirFiles {
  const dir = resolve(flag ?? env.DATA_DIR ?? './data');
  return { dir, events: join(dir, 'events.sqlite'), readModels: join(dir, 'readmodels.sqlite') };
}

/** Opens the event store of a data directory that must already hold one. */
export function openExistingStore(files: DataDirFiles): SqliteEventStore {
  if (!existsSync(files.events)) {
    throw new Error(`no event store at ${files.events} (use --data-dir or DATA_DIR to point at a node's data directory)`);
  }
  return new SqliteEventStore({ file: files.events });
}

/** Size of a file in bytes, 0 when it does not exist. */
export function fileSize(file: string): number {
  return existsSync(file) ? statSync(file).size : 0;
}
