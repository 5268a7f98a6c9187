/**
 * Signed webhooks (Standard Webhooks): delivery from the log by the node holding the
 * lease, and what the admin routes need to sign and send one themselves.
 */
export { Deliverer, WEBHOOKS_STREAM, type DelivererDeps } from './deliverer.js';
export { DELIVERY_STREAM, readCheckpoint, type Checkpoint, type StoredLaneCursor } from './lease.js';
export { eventAt } from './event-at.js';
export { generateSecret, secretKey, sign, signedHeaders } from './signing.js';
export { headersFor, payloadOf, deliverable } from './payload.js';
export { send, urlProblem, isPrivateAddress, type SendResult } from './send.js';
export { seal, unseal, requireKey } from './sealing.js';
export { webhookSettings, backoff, MAX_RESPONSE_BYTES, type WebhookSettings } from './settings.js';
