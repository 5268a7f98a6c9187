/**
 * Webhook events (issue 15). Registrations and dead letters live in the `webhooks` stream,
 * the delivery lease and per-endpoint cursors in `webhooks-delivery` (only its newest event
 * counts), so every node of a cluster shares them through the log.
 */
import { Type } from '@sinclair/typebox';
import { EpochMs } from './primitives.js';

const Str = Type.String();

const event = <T extends string, D extends ReturnType<typeof Type.Object>>(type: T, data: D) =>
  Type.Object({ type: Type.Literal(type), data });

/** A signing secret (`whsec_<base64>`); one without `expiresAt` is the current one. */
export const WebhookSecret = Type.Object({ secret: Str, createdAt: EpochMs, expiresAt: Type.Union([EpochMs, Type.Null()]) });

/** The whole registration as it is after the event: projections replace, never merge. */
const registration = {
  webhookId: Str,
  url: Str,
  /** Conversation event types to deliver; empty: all of them. */
  eventTypes: Type.Array(Str),
  secrets: Type.Array(WebhookSecret),
};

export const WebhookEvents = {
  /**
   * `from`, on a log split into partitions: the log's head cursor token when it was
   * registered; delivery starts there (there is no order across partitions to start by).
   */
  WebhookRegistered: event('WebhookRegistered', Type.Object({ ...registration, registeredBy: Str, from: Type.Optional(Str) })),
  /** A new URL, filter or secret set (a rotation keeps the old secret until its `expiresAt`). */
  WebhookUpdated: event('WebhookUpdated', Type.Object({ ...registration, updatedBy: Str })),
  WebhookRemoved: event('WebhookRemoved', Type.Object({ webhookId: Str, removedBy: Str })),
  /** Every attempt to deliver the event at `position` failed; the endpoint's cursor moved past it. */
  WebhookDeadLettered: event(
    'WebhookDeadLettered',
    Type.Object({ webhookId: Str, position: EpochMs, eventId: Str, eventType: Str, stream: Str, attempts: Type.Integer(), error: Str }),
  ),
  /** An admin redelivered a dead letter and the endpoint answered 2xx. */
  WebhookRedelivered: event('WebhookRedelivered', Type.Object({ webhookId: Str, position: EpochMs, redeliveredBy: Str })),
  /**
   * The delivering node's lease and every endpoint's cursor (the position delivered up to;
   * on a log split into partitions, the log cursor's token: one entry per partition).
   * Appended with the stream's expected version, so two nodes cannot both hold the lease.
   */
  WebhookDeliveryCheckpoint: event(
    'WebhookDeliveryCheckpoint',
    Type.Object({ nodeId: Str, leaseUntil: EpochMs, cursors: Type.Record(Type.String(), Type.Union([EpochMs, Str])) }),
  ),
} as const;
