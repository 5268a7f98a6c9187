/**
 * The live feed: one ordered consumer per store instance (not per store stream, not per
 * listener) over every subject, started at the stream's tail when the first listener
 * subscribes, fanned out in process. Messages that arrive together are handed to the
 * listeners as one batch (flushed on the next macrotask), always in position order,
 * because an ordered consumer delivers in JetStream sequence order and resets itself
 * (from the last sequence it saw) after a gap, a reconnect or a leader change. An envelope
 * whose first seq an earlier one took is skipped, as every read skips it (duplicate-seqs.ts).
 */
import type { ConsumerMessages, JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { FeedListener, StoredEvent } from '../port.js';
import { withRetryBudget } from './availability.js';
import type { StandingFilter } from './duplicate-seqs.js';
import { decodeEnvelope, storedEventsOf } from './envelope.js';

export class LiveFeed {
  private readonly listeners = new Set<FeedListener>();
  private messages: ConsumerMessages | undefined;
  private buffer: StoredEvent[] = [];
  private flushScheduled = false;
  private closed = false;
  /** Resolves once the consumer exists; appends wait for it so they are never missed. */
  ready: Promise<void> | undefined;

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly jetstreamStream: string,
    private readonly onError: (err: unknown) => void,
    private readonly startBudgetMs: number,
    /** Skips envelopes whose seq an earlier one took (duplicate-seqs.ts), as reads do. */
    private readonly standing: StandingFilter,
  ) {}

  subscribe(listener: FeedListener): () => void {
    this.listeners.add(listener);
    if (!this.ready) {
      // A feed that cannot start is reported, not thrown into every later append.
      this.ready = withRetryBudget('start feed', this.startBudgetMs, () => this.start()).catch((err) => this.onError(err));
    }
    return () => {
      this.listeners.delete(listener);
    };
  }

  private async start(): Promise<void> {
    const info = await this.jsm.streams.info(this.jetstreamStream);
    const consumer = await this.js.consumers.get(this.jetstreamStream, { opt_start_seq: info.state.last_seq + 1 });
    if (this.closed) {
      consumer.delete().catch(() => undefined);
      return;
    }
    // Short pulls with 1 s heartbeats: when the server hosting this (R1, in-memory)
    // consumer dies, two missed heartbeats make the client recreate it from the last
    // sequence it saw, so the feed resumes within seconds instead of the default ~30 s.
    this.messages = await consumer.consume({ max_messages: 512, expires: 5_000, idle_heartbeat: 1_000 });
    void this.pump(this.messages);
  }

  private async pump(messages: ConsumerMessages): Promise<void> {
    try {
      for await (const m of messages) {
        try {
          const env = decodeEnvelope(m.data, m.seq);
          if (this.standing.admit(env, m.seq)) this.buffer.push(...storedEventsOf(env, m.seq));
        } catch (err) {
          // A foreign message on our subjects is skipped, not fatal to the feed.
          this.onError(err);
          continue;
        }
        this.scheduleFlush();
      }
    } catch (err) {
      if (!this.closed) this.onError(err);
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      const batch = this.buffer;
      this.buffer = [];
      if (batch.length === 0 || this.closed) return;
      for (const listener of this.listeners) {
        try {
          listener(batch);
        } catch (err) {
          // A faulty listener must not break the feed or starve the others, nor end the
          // process (a throw from a microtask would): it is reported and the feed goes on.
          console.error('event feed: a listener failed on a batch; the feed goes on', err);
        }
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    await this.ready?.catch(() => undefined);
    this.messages?.stop();
  }
}
