/**
 * One endpoint's delivery: it reads the log from the endpoint's cursor and posts each
 * matching event, one at a time (so in order per conversation, and one request in flight
 * per endpoint), retrying with exponential backoff and jitter; after `maxAttempts` the
 * event is dead-lettered and the lane moves on. The cursor only moves past an event that
 * got a 2xx or was dead-lettered; the deliverer writes it to the log.
 *
 * The cursor is a log cursor (engine/store/log-cursor.ts): on a partitioned log one entry
 * per partition, so each partition's events go in order and none is passed by; where it
 * starts is lane-start.ts.
 */
import type { WebhookView } from '../../../projections/index.js';
import { LogCursor, readAllAfter, type EventStore, type StoredEvent } from '../../store/index.js';
import type { LaneStart } from './lane-start.js';
import { deliverable, headersFor, payloadOf } from './payload.js';
import { send, type SendResult } from './send.js';
import { backoff, type WebhookSettings } from './settings.js';

/** An attempt with no secret that can be unsealed: the sealing key changed (see payload.ts). */
const UNSEALABLE: SendResult = { ok: false, status: 0, error: 'no webhook secret can be unsealed: PARLEY_WEBHOOK_KEY (or PARLEY_JWT_SECRET) changed; rotate the secret' };

const PAGE = 100;
/** Idle re-read of the log when no event woke the lane (a missed wake costs at most this). */
const IDLE_MS = 1000;

export interface LaneDeps {
  store: EventStore;
  settings: WebhookSettings;
  /** The registration as the read model has it now (undefined once removed): each attempt uses the newest. */
  current(webhookId: string): WebhookView | undefined;
  advanced(webhookId: string, cursor: LogCursor): void;
  deadLetter(webhook: WebhookView, e: StoredEvent, attempts: number, error: string): Promise<void>;
  log: { warn(obj: object, msg: string): void };
}

export class Lane {
  private stopped = false;
  private wake: (() => void) | null = null;
  private readonly abort = new AbortController();
  private loop: Promise<void> | null = null;
  /** Null until `startAt` answers (it may take a read of the log). */
  private cursor: LogCursor | null = null;
  private notBefore = 0;

  constructor(
    private webhook: WebhookView,
    /** Where the lane starts (lane-start.ts); asked again after a failure until it answers. */
    private readonly startAt: () => Promise<LaneStart>,
    private readonly deps: LaneDeps,
  ) {}

  /** A new URL, filter or secret set applies from the next attempt. */
  update(webhook: WebhookView): void {
    this.webhook = webhook;
  }

  start(): void {
    this.loop ??= this.run().catch((err: unknown) => this.deps.log.warn({ err, webhookId: this.webhook.webhookId }, 'webhook lane ended'));
  }

  poke(): void {
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    this.poke();
    await this.loop;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        if (!this.cursor) ({ cursor: this.cursor, notBefore: this.notBefore } = await this.startAt());
        const page = await readAllAfter(this.deps.store, this.cursor, PAGE);
        if (page.length === 0) {
          await this.pause(IDLE_MS);
          continue;
        }
        for (const e of page) {
          if (this.stopped) return;
          const webhook = this.deps.current(this.webhook.webhookId);
          if (!webhook) return;
          this.webhook = webhook;
          if (deliverable(webhook, e) && e.metadata.at >= this.notBefore && !(await this.deliver(e))) return;
          this.cursor = this.cursor.advancedBy([e]);
          this.deps.advanced(this.webhook.webhookId, this.cursor);
        }
        failures = 0;
      } catch (err) {
        // The log or the dead-letter append failed: the same events again, after a pause.
        failures += 1;
        this.deps.log.warn({ err, webhookId: this.webhook.webhookId, cursor: this.cursor?.encode() }, 'webhook delivery paused: the log failed');
        await this.pause(backoff(this.deps.settings, failures));
      }
    }
  }

  /** True once delivered or dead-lettered; false when stopped before either. */
  private async deliver(e: StoredEvent): Promise<boolean> {
    const { settings } = this.deps;
    const body = payloadOf(e);
    for (let attempt = 1; ; attempt++) {
      const webhook = this.deps.current(this.webhook.webhookId);
      if (!webhook) return false;
      this.webhook = webhook;
      const headers = headersFor(webhook, settings.sealKey, e, body);
      const result = headers
        ? await send(webhook.url, headers, body, { timeoutMs: settings.timeoutMs, allowPrivate: settings.allowPrivate, signal: this.abort.signal })
        : UNSEALABLE;
      if (this.stopped) return false;
      if (result.ok) return true;
      if (attempt >= settings.maxAttempts) {
        await this.deps.deadLetter(webhook, e, attempt, result.error ?? `HTTP ${result.status}`);
        return true;
      }
      await this.pause(backoff(settings, attempt), false);
      if (this.stopped) return false;
    }
  }

  /** Waits `ms`; new events cut it short unless it is a retry pause; a stop always does. */
  private pause(ms: number, wakeable = true): Promise<void> {
    return new Promise<void>((resolve) => {
      const signal = this.abort.signal;
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        if (this.wake === done) this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done);
      if (wakeable) this.wake = done;
    });
  }
}
