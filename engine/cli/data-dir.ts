/**
 * Where the CLI finds a node's files. Unlike the node's own config loader this creates
 * nothing: read-only commands (stats, verify, replay, export) must not leave a fresh
 * jwt-secret or an empty store behind when pointed at the wrong directory.
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openLogStore } from '../cluster/index.js';
import { loadConfig } from '../node/config/index.js';
import { withUpcasting } from '../domain/index.js';
import { SqliteEventStore, type EventStore } from '../store/index.js';

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

/**
 * The log to read: the cluster's JetStream stream when NATS URLs are given (`--nats` or
 * NATS_URL, with PARLEY_STREAM), else the embedded store of the data directory. Events
 * come in their current shape (upcast), as the node sees them.
 */
export async function openLogForReading(files: DataDirFiles, nats: string | undefined, env = process.env): Promise<EventStore> {
  const urls = nats ?? env.NATS_URL;
  if (!urls) return withUpcasting(openExistingStore(files));
  // Only the log settings matter here; a fixed secret and id keep the CLI from creating files.
  const config = loadConfig({ ...env, NATS_URL: urls }, { dataDir: files.dir, jwtSecret: 'replay-needs-no-secret-000000', nodeId: 'cli' });
  return withUpcasting(await openLogStore(config));
}

/** Size of a file in bytes, 0 when it does not exist. */
export function fileSize(file: string): number {
  return existsSync(file) ? statSync(file).size : 0;
}
