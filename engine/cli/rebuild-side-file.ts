/** What the main thread and the side rebuild thread (rebuild-side.ts) share. */
import { rmSync } from 'node:fs';
import type { MessagePort } from 'node:worker_threads';

export interface SideSettings {
  /** The main thread's read-ahead of the log (log-prefetch.ts `share`). */
  pages: MessagePort;
  /** The embedded store's events.sqlite. */
  events: string;
  /** The scratch read-model file the thread builds. */
  file: string;
  names: string[];
  skips: unknown[];
  batchSize: number;
}

/** built: the scratch file holds each read model consistent with its checkpoint (merge it). */
export interface SideDone {
  built: boolean;
  error?: string;
}

/** The scratch file and its journals; a rebuild killed midway leaves them for the next to remove. */
export function removeSideFile(file: string): void {
  for (const suffix of ['', '-journal', '-wal', '-shm']) rmSync(file + suffix, { force: true });
}
