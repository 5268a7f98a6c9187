/** Starting the read-model thread's worker, and telling its reports and its end to the main side. */
import { Worker } from 'node:worker_threads';
import type { FromThread, ThreadSettings } from './read-model-messages.js';

/**
 * The thread's code. Compiled (dist/), this module and its sibling read-model-worker.js are
 * JavaScript and the thread loads the worker directly (no tsx). Run from source (tests,
 * development) a worker thread does not inherit the TypeScript loader, so it starts from
 * read-model-thread-entry.js, which registers tsx before loading read-model-worker.ts.
 */
const WORKER_URL = import.meta.url.endsWith('.ts')
  ? new URL('./read-model-thread-entry.js', import.meta.url)
  : new URL('./read-model-worker.js', import.meta.url);

export interface WorkerEvents {
  /** Only the current worker is listened to: one that was replaced says nothing. */
  isCurrent(worker: Worker): boolean;
  /** The thread reported that it started. */
  started(): void;
  heard(worker: Worker, message: FromThread): void;
  /** The thread ended; `err` says why. */
  lost(worker: Worker, err: Error): void;
}

/** Starts a worker; `started` resolves once it says so and rejects when it ends before that. */
export function startWorker(settings: ThreadSettings, on: WorkerEvents): { worker: Worker; started: Promise<void> } {
  const worker = new Worker(WORKER_URL, { workerData: settings });
  let lastError: Error | undefined;
  const started = new Promise<void>((resolve, reject) => {
    let started = false;
    worker.on('message', (message: FromThread) => {
      if (!on.isCurrent(worker)) return;
      if ('started' in message) {
        started = true;
        on.started();
        resolve();
      } else on.heard(worker, message);
    });
    worker.on('error', (err) => (lastError = err));
    worker.on('exit', (code) => {
      const err = lastError ?? new Error(`the read-model thread exited with code ${code}`);
      if (!started) reject(new Error(`cannot start the read-model thread for ${settings.file}: ${err.message}`, { cause: err }));
      on.lost(worker, err);
    });
  });
  return { worker, started };
}
