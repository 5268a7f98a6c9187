/**
 * Live batches go to the read-model thread as JSON text; a thread that is down reads them
 * from the log when it is back. Under load they are gathered for up to `liveIntervalMs`
 * and go as one message: each message costs both threads a hand-off and the thread a
 * transaction (pages of every read model, an FTS segment, the checkpoints row) however few
 * events it holds.
 */
import type { Worker } from 'node:worker_threads';
import type { StoredEvent } from '../engine/store/index.js';
import type { LiveChannel } from './live-channel.js';

/**
 * See ThreadOptions.liveIntervalMs. Measured (bench/cpu-split.ts, Parley alone at 500
 * posts/s, medians of 3 interleaved runs): the thread's CPU per post fell from ~0.28 ms (a
 * message and a transaction per commit) to ~0.15 ms at 50 ms and ~0.10 ms at 200 ms.
 * Readers do not wait for it: a waiting reader sends what is gathered at once.
 */
const DEFAULT_LIVE_INTERVAL_MS = 200;

export class LiveForwarding {
  /** Live batches gathered for the next message to the thread (see `liveIntervalMs`), oldest first, and their events. */
  private gathered: StoredEvent[][] = [];
  private gatheredEvents = 0;
  private gatherTimer: ReturnType<typeof setTimeout> | null = null;
  private lastSentAt = -Infinity;

  /**
   * `target`: the thread to send to, null while there is none or it is down.
   * `readersWaiting`: a reader waits for a position, so nothing is held back.
   */
  constructor(
    private readonly channel: LiveChannel,
    private readonly options: { liveIntervalMs?: number; batchSize?: number },
    private readonly target: () => Worker | null,
    private readonly readersWaiting: () => boolean,
  ) {}

  /** Something is gathered and not sent yet. */
  get pending(): boolean {
    return this.gathered.length > 0;
  }

  forward(events: StoredEvent[]): void {
    if (events.length === 0) return;
    this.channel.delivered(events);
    if (!this.target() || !this.channel.sending) return;
    this.gathered.push(events);
    this.gatheredEvents += events.length;
    const wait = this.lastSentAt + (this.options.liveIntervalMs ?? DEFAULT_LIVE_INTERVAL_MS) - performance.now();
    // Past the in-flight bound it goes at once too, so the thread is told to pull as soon as before.
    const full = this.gatheredEvents >= (this.options.batchSize ?? 1000) || this.channel.inFlight + this.gatheredEvents > this.channel.maxInFlight;
    if (wait <= 0 || full || this.readersWaiting()) this.send();
    else this.gatherTimer ??= setTimeout(() => this.send(), wait);
  }

  /** Sends what was gathered; one too far behind is told to pull the log from what it was sent (LiveChannel). */
  send(): void {
    if (this.gatherTimer) clearTimeout(this.gatherTimer);
    this.gatherTimer = null;
    const batches = this.gathered;
    this.gathered = [];
    this.gatheredEvents = 0;
    const worker = this.target();
    if (batches.length === 0 || !worker || !this.channel.sending) return;
    this.lastSentAt = performance.now();
    const events = batches.length === 1 ? batches[0]! : batches.flat();
    try {
      worker.postMessage({ live: JSON.stringify(events) });
    } catch (err) {
      // Not sent (a thread on its way out): its successor reads these from the log.
      console.error('read-model thread: a live batch could not be sent', err);
      return;
    }
    const behind = this.channel.sentBatch(events);
    if (behind !== null) worker.postMessage({ behind });
  }

  /** A thread that is gone or new reads what was gathered for it from the log (its checkpoints on). */
  drop(): void {
    if (this.gatherTimer) clearTimeout(this.gatherTimer);
    this.gatherTimer = null;
    this.gathered = [];
    this.gatheredEvents = 0;
  }
}
