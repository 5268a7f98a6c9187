/**
 * WAL checkpoints off the hot path. SQLite's default autocheckpoint runs a checkpoint inside
 * whichever commit pushes the WAL past 1000 pages: that commit copies the WAL into the
 * database file and fsyncs it, ~4 ms on the event store's writer and ~7 ms on a read-model
 * update on the main thread — nearly all of the slow commits measured (issue 11).
 *
 * So the busy connections (the store's writer thread, the node's read-model connection) run
 * with `wal_autocheckpoint = 0`, and this checkpointer does the work from its own thread and
 * its own connections (wal-checkpointer-worker.js): it polls the size of each file's -wal
 * and, past a threshold, runs a PASSIVE checkpoint, which never blocks writers or readers.
 * Once a checkpoint has copied every frame, the next commit starts the WAL over from its
 * beginning, so the file stops growing. Should steady writes keep a PASSIVE checkpoint from
 * ever catching up, past a cap it also tries a TRUNCATE that waits for no one (it runs only
 * when it gets the write lock at once), which keeps the WAL bounded.
 *
 * A writer that never pauses (a rebuild's batches back to back) can still outrun it: a
 * checkpoint from another connection only lets the WAL start over if it copies the last
 * frame before the next commit. So the busy connections keep a backstop instead of 0:
 * autocheckpoint at WAL_BACKSTOP_PAGES (64 MiB), far past where this thread checkpoints.
 * It fires only when this thread has fallen that far behind, and then that writer's own
 * checkpoint (the frames left after ours, and an fsync) starts the WAL over: bounded at
 * the price of one slow commit, instead of a WAL that grows with the whole rebuild.
 *
 * A failing checkpoint (full disk, I/O error) is reported and tried again on the next poll;
 * should the thread itself die it is started again after a backoff. Its thread never keeps
 * the process alive, and stop() closes its connections.
 */
import { Worker } from 'node:worker_threads';

export interface WalCheckpointerOptions {
  /** SQLite files in WAL mode whose writers have autocheckpoint off. */
  files: string[];
  /** WAL size past which a PASSIVE checkpoint runs (default 4 MiB). */
  thresholdBytes?: number;
  /** WAL size past which a TRUNCATE is tried too, without waiting (default 4 × threshold). */
  capBytes?: number;
  /** How often the WAL sizes are looked at (default 200 ms). */
  intervalMs?: number;
  /** A checkpoint failed, or the thread died; it is retried. */
  onError?: (err: Error, file: string | undefined) => void;
  /** Each checkpoint run: its mode, whether it was blocked, WAL frames and frames copied. */
  onCheckpoint?: (c: CheckpointRun) => void;
}

export interface CheckpointRun {
  file: string;
  mode: 'PASSIVE' | 'TRUNCATE';
  busy: number;
  log: number;
  checkpointed: number;
  ms: number;
}

type WorkerReply = { checkpoint: CheckpointRun } | { error: string; code?: string; file: string };

export const DEFAULT_WAL_THRESHOLD_BYTES = 4 * 1024 * 1024;
/** `PRAGMA wal_autocheckpoint` of the busy connections: a backstop far past the threshold (see the header). */
export const WAL_BACKSTOP_PAGES = 16_384;
const DEFAULT_INTERVAL_MS = 200;
const RESTART_MIN_MS = 250;
const RESTART_MAX_MS = 10_000;
const STOP_WAIT_MS = 5_000;

export class WalCheckpointer {
  private worker: Worker | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private restartDelay = RESTART_MIN_MS;
  private stopping: Promise<void> | undefined;
  private readonly settings;

  constructor(private readonly options: WalCheckpointerOptions) {
    const thresholdBytes = options.thresholdBytes ?? DEFAULT_WAL_THRESHOLD_BYTES;
    this.settings = {
      files: options.files,
      thresholdBytes,
      capBytes: options.capBytes ?? 4 * thresholdBytes,
      intervalMs: options.intervalMs ?? DEFAULT_INTERVAL_MS,
    };
    this.worker = this.startWorker();
  }

  private startWorker(): Worker {
    const worker = new Worker(new URL('./wal-checkpointer-worker.js', import.meta.url), { workerData: this.settings });
    worker.unref();
    worker.on('message', (reply: WorkerReply) => {
      if ('checkpoint' in reply) {
        this.restartDelay = RESTART_MIN_MS;
        this.options.onCheckpoint?.(reply.checkpoint);
      } else {
        const err = new Error(`WAL checkpoint of ${reply.file} failed: ${reply.error}${reply.code ? ` (${reply.code})` : ''}`);
        this.options.onError?.(err, reply.file);
      }
    });
    worker.on('error', (err) => this.lost(worker, err));
    worker.on('exit', (code) => this.lost(worker, new Error(`the WAL checkpointer thread exited (${code})`)));
    return worker;
  }

  /** The thread died (not stopped by us): report it and start another after a backoff. */
  private lost(worker: Worker, err: Error): void {
    if (worker !== this.worker || this.stopping) return;
    this.worker = undefined;
    this.options.onError?.(err, undefined);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.stopping) this.worker = this.startWorker();
    }, this.restartDelay);
    this.restartTimer.unref();
    this.restartDelay = Math.min(this.restartDelay * 2, RESTART_MAX_MS);
  }

  /** Stops polling and closes the thread's connections (a checkpoint under way finishes first). */
  stop(): Promise<void> {
    return (this.stopping ??= (async () => {
      clearTimeout(this.restartTimer);
      const worker = this.worker;
      this.worker = undefined;
      if (!worker) return;
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage('stop');
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), STOP_WAIT_MS)));
      const outcome = await Promise.race([exited, late]);
      clearTimeout(timer);
      if (outcome === 'late') await worker.terminate().catch(() => undefined);
    })());
  }
}
