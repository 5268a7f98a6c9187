/** How the read-model thread is set up (see read-model-thread.ts). */
import type { RunnerOptions } from './runner-options.js';

export interface ThreadOptions extends Pick<RunnerOptions, 'batchSize' | 'retry' | 'onApplied' | 'onError' | 'onRecovered'> {
  /** PASSIVE WAL checkpoints run between batches once the WAL is this large (default 4 MiB). */
  checkpointBytes?: number;
  /** Lower the thread's scheduling priority by this much (Linux `nice`, 0..19; default 10). */
  nice?: number;
  /**
   * Live events sent to the thread and not yet taken off the channel; past this it pulls
   * the log instead (read-model-messages.ts), so a stuck thread costs no memory (default 20,000).
   */
  maxInFlightEvents?: number;
  /**
   * Under load, live batches go to the thread at most once per this many milliseconds,
   * gathered into one message (and one read-model transaction); a batch after a quiet
   * spell, a batch while a reader waits, and a gathering of `batchSize` events go at once
   * (default 200; 0 sends every batch).
   */
  liveIntervalMs?: number;
}
