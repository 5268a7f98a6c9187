/** What an endpoint receives for one event: the Standard Webhooks envelope around the wire event. */
import type { WebhookView } from '../../../projections/index.js';
import type { StoredEvent } from '../../store/index.js';
import { toWireEvent } from '../frames.js';
import { unseal } from './sealing.js';
import { signedHeaders } from './signing.js';

/** Conversation events only: user and node streams (drafts, presence) are nobody else's business. */
export function deliverable(webhook: Pick<WebhookView, 'eventTypes'>, e: StoredEvent): boolean {
  return e.stream.startsWith('conversation-') && (webhook.eventTypes.length === 0 || webhook.eventTypes.includes(e.type));
}

export function payloadOf(e: StoredEvent): string {
  return JSON.stringify({ type: e.type, timestamp: new Date(e.metadata.at).toISOString(), data: toWireEvent(e) });
}

/**
 * Secrets that still sign at `now` (the current one and any in its rotation window),
 * unsealed. One sealed under another key (the key changed) does not sign: an endpoint
 * left with none fails its attempts and its events are dead-lettered, to be redelivered
 * once the key is right again or the secret rotated.
 */
export function signingSecrets(webhook: Pick<WebhookView, 'secrets'>, key: Buffer | undefined, now: number): string[] {
  return webhook.secrets.filter((s) => s.expiresAt === null || s.expiresAt > now).flatMap((s) => unseal(key, s.secret) ?? []);
}

/** Headers for one attempt; the id is the event's, so a receiver can drop a redelivery it already has. Undefined: no secret can be unsealed. */
export function headersFor(webhook: Pick<WebhookView, 'secrets'>, key: Buffer | undefined, e: StoredEvent, body: string, now = Date.now()): Record<string, string> | undefined {
  const secrets = signingSecrets(webhook, key, now);
  return secrets.length === 0 ? undefined : signedHeaders(secrets, e.id, Math.floor(now / 1000), body);
}
