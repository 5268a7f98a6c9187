/**
 * Webhook registrations and their dead letters, from the `webhooks` stream. The delivery
 * cursors are not here: they live in the newest `WebhookDeliveryCheckpoint` of the log,
 * which the delivering node reads itself (engine/node/webhooks/).
 */
import type Database from 'better-sqlite3';
import { defineProjection } from './projection.js';
import { prepared } from './prepared.js';

/** Dead letters kept per endpoint; older ones are dropped so a dead endpoint cannot grow the read model without end. */
export const MAX_DEAD_LETTERS_PER_WEBHOOK = 1000;

export interface WebhookSecretView {
  secret: string;
  createdAt: number;
  expiresAt: number | null;
}

export interface WebhookView {
  webhookId: string;
  url: string;
  eventTypes: string[];
  secrets: WebhookSecretView[];
  /** Log position of the registration: delivery starts after it. */
  registeredAt: number;
  registeredPosition: number;
}

export interface DeadLetterView {
  webhookId: string;
  position: number;
  eventId: string;
  eventType: string;
  stream: string;
  attempts: number;
  error: string;
  at: number;
}

export const webhooksProjection = defineProjection({
  name: 'webhooks',
  source: { module: import.meta.url, export: 'webhooksProjection' },
  version: 1,
  handles: ['WebhookRegistered', 'WebhookUpdated', 'WebhookRemoved', 'WebhookDeadLettered', 'WebhookRedelivered'],
  setup(db) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS webhooks (
        webhook_id TEXT PRIMARY KEY, url TEXT NOT NULL, event_types TEXT NOT NULL, secrets TEXT NOT NULL,
        registered_at INTEGER NOT NULL, registered_position INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS webhook_dead_letters (
        webhook_id TEXT NOT NULL, position INTEGER NOT NULL, event_id TEXT NOT NULL, event_type TEXT NOT NULL,
        stream TEXT NOT NULL, attempts INTEGER NOT NULL, error TEXT NOT NULL, at INTEGER NOT NULL,
        PRIMARY KEY (webhook_id, position)
      ) WITHOUT ROWID;
    `);
  },
  handle(events, db) {
    for (const e of events) {
      switch (e.type) {
        case 'WebhookRegistered':
          prepared(db, 'INSERT OR REPLACE INTO webhooks VALUES (?, ?, ?, ?, ?, ?)').run(
            e.data.webhookId,
            e.data.url,
            JSON.stringify(e.data.eventTypes),
            JSON.stringify(e.data.secrets),
            e.metadata.at,
            e.position,
          );
          break;
        case 'WebhookUpdated':
          prepared(db, 'UPDATE webhooks SET url = ?, event_types = ?, secrets = ? WHERE webhook_id = ?').run(
            e.data.url,
            JSON.stringify(e.data.eventTypes),
            JSON.stringify(e.data.secrets),
            e.data.webhookId,
          );
          break;
        case 'WebhookRemoved':
          prepared(db, 'DELETE FROM webhooks WHERE webhook_id = ?').run(e.data.webhookId);
          prepared(db, 'DELETE FROM webhook_dead_letters WHERE webhook_id = ?').run(e.data.webhookId);
          break;
        case 'WebhookDeadLettered': {
          const d = e.data;
          prepared(db, 'INSERT OR REPLACE INTO webhook_dead_letters VALUES (?, ?, ?, ?, ?, ?, ?, ?)').run(
            d.webhookId, d.position, d.eventId, d.eventType, d.stream, d.attempts, d.error.slice(0, 500), e.metadata.at,
          );
          prepared(
            db,
            `DELETE FROM webhook_dead_letters WHERE webhook_id = ? AND position <= (
               SELECT position FROM webhook_dead_letters WHERE webhook_id = ? ORDER BY position DESC LIMIT 1 OFFSET ${MAX_DEAD_LETTERS_PER_WEBHOOK})`,
          ).run(d.webhookId, d.webhookId);
          break;
        }
        case 'WebhookRedelivered':
          prepared(db, 'DELETE FROM webhook_dead_letters WHERE webhook_id = ? AND position = ?').run(e.data.webhookId, e.data.position);
          break;
      }
    }
  },
  truncate(db) {
    db.exec('DELETE FROM webhooks; DELETE FROM webhook_dead_letters;');
  },
});

type WebhookRow = { webhook_id: string; url: string; event_types: string; secrets: string; registered_at: number; registered_position: number };

function toView(r: WebhookRow): WebhookView {
  return {
    webhookId: r.webhook_id,
    url: r.url,
    eventTypes: JSON.parse(r.event_types) as string[],
    secrets: JSON.parse(r.secrets) as WebhookSecretView[],
    registeredAt: r.registered_at,
    registeredPosition: r.registered_position,
  };
}

export function listWebhooks(db: Database.Database): WebhookView[] {
  return (prepared(db, 'SELECT * FROM webhooks ORDER BY registered_position').all() as WebhookRow[]).map(toView);
}

export function webhookById(db: Database.Database, webhookId: string): WebhookView | undefined {
  const row = prepared(db, 'SELECT * FROM webhooks WHERE webhook_id = ?').get(webhookId) as WebhookRow | undefined;
  return row && toView(row);
}

export function deadLettersOf(db: Database.Database, webhookId: string, limit: number): DeadLetterView[] {
  const rows = prepared(db, 'SELECT * FROM webhook_dead_letters WHERE webhook_id = ? ORDER BY position LIMIT ?').all(webhookId, limit) as Array<
    Record<string, unknown>
  >;
  return rows.map((r) => ({
    webhookId: r.webhook_id as string,
    position: r.position as number,
    eventId: r.event_id as string,
    eventType: r.event_type as string,
    stream: r.stream as string,
    attempts: r.attempts as number,
    error: r.error as string,
    at: r.at as number,
  }));
}

export function deadLetterCount(db: Database.Database, webhookId: string): number {
  return prepared(db, 'SELECT count(*) FROM webhook_dead_letters WHERE webhook_id = ?').pluck().get(webhookId) as number;
}
