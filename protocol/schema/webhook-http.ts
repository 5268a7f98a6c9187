/** The admin webhook routes' bodies (engine/node/routes/webhook-routes.ts). */
import { Type } from '@sinclair/typebox';
import { ConversationEvents } from './events.js';
import { EpochMs, MAX_INTEGER, Strict } from './primitives.js';

const Url = Type.String({ minLength: 1, maxLength: 2048 });
const EventTypes = Type.Array(Type.Union(Object.keys(ConversationEvents).map((t) => Type.Literal(t))), { maxItems: 32, uniqueItems: true });
/** `whsec_` and the base64 of 24 to 64 random bytes. */
const Secret = Type.String({ pattern: '^whsec_[A-Za-z0-9+/]+={0,2}$', minLength: 38, maxLength: 94 });

export const WebhookRequests = {
  register: Strict({ url: Url, eventTypes: Type.Optional(EventTypes), secret: Type.Optional(Secret) }),
  update: Strict({
    url: Type.Optional(Url),
    eventTypes: Type.Optional(EventTypes),
    /** A new secret (given or generated); the old one keeps signing for PARLEY_WEBHOOK_ROTATION_SECONDS. */
    rotateSecret: Type.Optional(Type.Boolean()),
    secret: Type.Optional(Secret),
  }),
  /** Nothing to say yet: the position is in the path. */
  redeliver: Strict({}),
} as const;

export const WebhookParams = {
  webhook: Type.Object({ webhookId: Type.String() }),
  deadLetter: Type.Object({ webhookId: Type.String(), position: Type.Integer({ minimum: 1, maximum: MAX_INTEGER }) }),
} as const;

export const WebhookQueries = {
  deadLetters: Strict({ limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }) }),
} as const;

const SecretInfo = Type.Object({ hint: Type.String(), createdAt: EpochMs, expiresAt: Type.Union([EpochMs, Type.Null()]) });

export const WebhookResponses = {
  /** The new secret is shown here once; listings show only a hint of it. */
  registered: Type.Object({ webhookId: Type.String(), url: Type.String(), eventTypes: Type.Array(Type.String()), secret: Type.Optional(Type.String()) }),
  list: Type.Object({
    webhooks: Type.Array(
      Type.Object({
        webhookId: Type.String(),
        url: Type.String(),
        eventTypes: Type.Array(Type.String()),
        secrets: Type.Array(SecretInfo),
        /** Delivered (or dead-lettered) up to this log position, as last committed; on a partitioned log, a cursor token. */
        cursor: Type.Union([Type.Integer(), Type.String()]),
        deadLetters: Type.Integer(),
      }),
    ),
    /** The node delivering now (empty when none), and until when its lease runs. */
    deliveringNode: Type.String(),
    leaseUntil: EpochMs,
  }),
  deadLetters: Type.Object({
    deadLetters: Type.Array(
      Type.Object({
        position: Type.Integer(),
        eventId: Type.String(),
        eventType: Type.String(),
        stream: Type.String(),
        attempts: Type.Integer(),
        error: Type.String(),
        at: EpochMs,
      }),
    ),
  }),
  removed: Type.Object({ webhookId: Type.String(), removed: Type.Boolean() }),
  redelivered: Type.Object({ delivered: Type.Boolean(), status: Type.Integer(), error: Type.Optional(Type.String()) }),
} as const;
