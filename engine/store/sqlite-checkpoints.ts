/**
 * The checkpointer thread's life (sqlite-checkpointer.js): started after the store's first
 * commit, told to stop when the store closes, and started again after a backoff should it
 * die. A checkpoint that fails is reported (onFailure) and tried again on the next tick;
 * nothing the checkpointer does can fail an append or end the node.
 */
import { Worker } from 'node:worker_threads';
import { backoffDelay } from './backoff.js';

/** Pauses before restarting a checkpointer that died, growing while it keeps dying. */
const RESTART = { initialMs: 500, maxMs: 30_000 };
/** How long a stopping checkpointer may take to close its connection before it is terminated. */
const STOP_MS = 2000;
/** A failure that repeats (a full disk fails every tick) is told again only after this long. */
const REPEAT_FAILURE_MS = 60_000;

export interface WalCheckpointSettings {
  /** A PASSIVE checkpoint is tried this often (default 250 ms). */
  intervalMs?: number;
  /** Past this many bytes of WAL the checkpoint is a TRUNCATE, which waits for readers (default 64 MiB). */
  hardBytes?: number;
}

/** What one checkpoint did, as the thread reports it. */
export interface CheckpointReport {
  mode: 'PASSIVE' | 'TRUNCATE';
  /** Size of the WAL file before the checkpoint. */
  walBytes: number;
  /** Frames in the WAL, and how many of them are now in the database file. */
  log: number;
  checkpointed: number;
  /** 1 when the checkpoint could not finish (readers or the writer in the way). */
  busy: number;
  ms: number;
}

interface FailureReport {
  mode: string;
  error: string;
  code?: string;
}

export interface WalCheckpointerOptions extends WalCheckpointSettings {
  file: string;
  onCheckpoint?: (report: CheckpointReport) => void;
  /** A checkpoint failed or the thread died; it is retried either way. */
  onFailure?: (err: Error) => void;
}

export const DEFAULT_CHECKPOINT_INTERVAL_MS = 250;
export const DEFAULT_WAL_HARD_BYTES = 64 * 1024 * 1024;

/**
 * A WAL that starts over is cut back to this size (journal_size_limit): small, so an idle
 * store's WAL is small too, yet large enough not to shrink and grow again on every restart.
 */
export function journalSizeLimit(hardBytes: number): number {
  return Math.min(hardBytes, 4 * 1024 * 1024);
}

/** Runs the store's WAL checkpoints on a thread and connection of their own. */
export class WalCheckpointer {
  private worker: Worker | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private restarts = 0;
  private stopped = false;
  /** The last checkpoint failure told, and when: repeats of it within REPEAT_FAILURE_MS are not. */
  private lastFailure: { text: string; at: number } | undefined;

  constructor(private readonly options: WalCheckpointerOptions) {}

  /** Starts the thread if it is not running (idempotent; not after stop). */
  start(): void {
    if (this.worker || this.restartTimer || this.stopped) return;
    const hardBytes = this.options.hardBytes ?? DEFAULT_WAL_HARD_BYTES;
    const worker = new Worker(new URL('./sqlite-checkpointer.js', import.meta.url), {
      workerData: {
        file: this.options.file,
        intervalMs: this.options.intervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS,
        hardBytes,
        journalSizeLimit: journalSizeLimit(hardBytes),
      },
    });
    this.worker = worker;
    worker.on('message', (msg: { ready: true } | CheckpointReport | FailureReport) => this.reported(msg));
    worker.on('error', (err) => this.lost(worker, err));
    worker.on('exit', (code) => this.lost(worker, new Error(`the SQLite checkpointer thread exited (${code})`)));
  }

  /** Stops the thread (its connection closed) and any restart; for the store's close. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const worker = this.worker;
    this.worker = undefined;
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage('stop');
    const timer = setTimeout(() => void worker.terminate(), STOP_MS);
    await exited;
    clearTimeout(timer);
  }

  private reported(msg: { ready: true } | CheckpointReport | FailureReport): void {
    try {
      if ('ready' in msg) return;
      if ('error' in msg) {
        const text = `WAL checkpoint (${msg.mode}) of ${this.options.file} failed: ${msg.error}`;
        const now = Date.now();
        if (this.lastFailure?.text === text && now - this.lastFailure.at < REPEAT_FAILURE_MS) return;
        this.lastFailure = { text, at: now };
        this.options.onFailure?.(Object.assign(new Error(text), msg.code ? { code: msg.code } : {}));
        return;
      }
      this.lastFailure = undefined;
      this.restarts = 0;
      this.options.onCheckpoint?.(msg);
    } catch {
      // An observer's own failure must not become the checkpointer's.
    }
  }

  private lost(worker: Worker, err: Error): void {
    if (worker !== this.worker) return;
    this.worker = undefined;
    void worker.terminate().catch(() => undefined);
    try {
      this.options.onFailure?.(new Error(`the SQLite checkpointer thread of ${this.options.file} died: ${err.message}`, { cause: err }));
    } catch {
      // As above.
    }
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.start();
    }, backoffDelay(this.restarts++, RESTART));
  }
}
