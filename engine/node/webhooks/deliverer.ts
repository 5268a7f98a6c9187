/**
 * Runs webhook delivery on the node that holds the lease (lease.ts): one lane per
 * registered endpoint (lane.ts), the cursors they advance written to the log shortly
 * after each 2xx (at most every `commitMs`) and with every renewal. Nodes without the
 * lease only try to take it when it runs out; with no endpoint registered nothing runs
 * and nothing is written.
 */
import type Database from 'better-sqlite3';
import { listWebhooks, storedToken, webhookById, type WebhookView } from '../../../projections/index.js';
import { toNewEvents } from '../../domain/index.js';
import type { EventStore, LogCursor, StoredEvent } from '../../store/index.js';
import { Lane } from './lane.js';
import { laneStart } from './lane-start.js';
import { DeliveryLease } from './lease.js';
import type { WebhookSettings } from './settings.js';

export const WEBHOOKS_STREAM = 'webhooks';

export interface DelivererDeps {
  store: EventStore;
  readModels: Database.Database;
  /** Resolves once the read models include `position`. */
  waitFor(position: number): Promise<void>;
  nodeId: string;
  settings: WebhookSettings;
  log: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
}

export class Deliverer {
  readonly lease: DeliveryLease;
  private readonly lanes = new Map<string, Lane>();
  private stopped = false;
  private dirty = false;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private unsubscribe: (() => void) | null = null;

  constructor(private readonly deps: DelivererDeps) {
    this.lease = new DeliveryLease(deps.store, deps.nodeId, deps.settings.leaseMs);
  }

  start(): void {
    this.unsubscribe = this.deps.store.subscribe((events) => this.onEvents(events));
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.wake?.();
    await this.loop;
    await this.stopLanes();
    // Writes the last cursors and hands the lease back, so another node takes over at once.
    await this.lease.release();
  }

  private onEvents(events: StoredEvent[]): void {
    for (const lane of this.lanes.values()) lane.poke();
    const changed = events.filter((e) => e.stream === WEBHOOKS_STREAM);
    if (changed.length > 0) {
      this.deps.waitFor(changed[changed.length - 1]!.position).then(
        () => this.wake?.(),
        () => undefined,
      );
    }
  }

  private async run(): Promise<void> {
    const { settings, log } = this.deps;
    while (!this.stopped) {
      try {
        await this.step();
      } catch (err) {
        log.warn({ err }, 'webhook delivery: lease or cursor write failed; retrying');
        if (!this.lease.holding) await this.stopLanes();
      }
      if (this.stopped) break;
      await this.sleep(this.dirty ? settings.commitMs : Math.floor(settings.leaseMs / 3));
    }
  }

  private async step(): Promise<void> {
    const webhooks = listWebhooks(this.deps.readModels);
    if (webhooks.length === 0) {
      await this.stopLanes();
      await this.lease.release();
      return;
    }
    const held = this.lease.holding;
    this.dirty = false;
    const holding = await this.lease.renew();
    if (!holding) {
      if (held) this.deps.log.info({ nodeId: this.deps.nodeId }, 'webhook delivery lease lost: another node delivers');
      await this.stopLanes();
      return;
    }
    if (!held) this.deps.log.info({ nodeId: this.deps.nodeId }, 'webhook delivery lease taken: this node delivers');
    this.syncLanes(webhooks);
  }

  private syncLanes(webhooks: WebhookView[]): void {
    const ids = new Set(webhooks.map((w) => w.webhookId));
    for (const [id, lane] of this.lanes) {
      if (ids.has(id)) continue;
      this.lanes.delete(id);
      this.lease.forget(id);
      void lane.stop();
    }
    for (const w of webhooks) {
      const lane = this.lanes.get(w.webhookId);
      if (lane) {
        lane.update(w);
        continue;
      }
      const stored = this.lease.cursors.get(w.webhookId);
      const created = new Lane(w, () => laneStart(this.deps.store, w, stored), {
        store: this.deps.store,
        settings: this.deps.settings,
        log: this.deps.log,
        current: (id) => webhookById(this.deps.readModels, id),
        advanced: (id, cursor) => this.advanced(id, cursor),
        deadLetter: (webhook, e, attempts, error) => this.deadLetter(webhook, e, attempts, error),
      });
      this.lanes.set(w.webhookId, created);
      created.start();
    }
  }

  private advanced(webhookId: string, cursor: LogCursor): void {
    if (!this.lease.holding || !this.lanes.has(webhookId)) return;
    this.lease.cursors.set(webhookId, storedToken(cursor));
    if (!this.dirty) {
      this.dirty = true;
      this.wake?.();
    }
  }

  private async deadLetter(webhook: WebhookView, e: StoredEvent, attempts: number, error: string): Promise<void> {
    const events = toNewEvents(
      [
        {
          type: 'WebhookDeadLettered',
          data: { webhookId: webhook.webhookId, position: e.position, eventId: e.id, eventType: e.type, stream: e.stream, attempts, error: error.slice(0, 500) },
        },
      ],
      { actor: 'system', commandId: `webhook-dead-${webhook.webhookId}-${e.position}` },
    );
    await this.deps.store.append(WEBHOOKS_STREAM, events, { expectedVersion: 'any' });
    this.deps.log.warn({ webhookId: webhook.webhookId, position: e.position, attempts, error }, 'webhook event dead-lettered');
  }

  private async stopLanes(): Promise<void> {
    const lanes = [...this.lanes.values()];
    this.lanes.clear();
    await Promise.all(lanes.map((l) => l.stop()));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        if (self.wake === done) self.wake = null;
        resolve();
      }
      this.wake = done;
    });
  }
}
