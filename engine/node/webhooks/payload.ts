/** What an endpoint receives for one event: the Standard Webhooks envelope around the wire event. */
import type { WebhookView } from '../../../projections/index.js';
import type { StoredEvent } from '../../store/index.js';
import { toWireEvent } from '../frames.js';
import { signedHeaders } from './signing.js';

/** Conversation events only: user and node streams (drafts, presence) are nobody else's business. */
export function deliverable(webhook: Pick<WebhookView, 'eventTypes'>, e: StoredEvent): boolean {
  return e.stream.startsWith('conversation-') && (webhook.eventTypes.length === 0 || webhook.eventTypes.includes(e.type));
}

export function payloadOf(e: StoredEvent): string {
  return JSON.stringify({ type: e.type, timestamp: new Date(e.metadata.at).toISOString(), data: toWireEvent(e) });
}

/** Secrets that still sign at `now`: the current one and any in its rotation window. */
export function signingSecrets(webhook: Pick<WebhookView, 'secrets'>, now: number): string[] {
  return webhook.secrets.filter((s) => s.expiresAt === null || s.expiresAt > now).map((s) => s.secret);
}

/** Headers for one attempt; the id is the event's, so a receiver can drop a redelivery it already has. */
export function headersFor(webhook: Pick<WebhookView, 'secrets'>, e: StoredEvent, body: string, now = Date.now()): Record<string, string> {
  return signedHeaders(signingSecrets(webhook, now), e.id, Math.floor(now / 1000), body);
}
