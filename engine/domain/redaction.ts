/**
 * What "redacted" means, in ONE place: a content event (a message's `MessagePosted` or
 * one of its `MessageBodyEdited`) keeps its type, ids, author and place in the log, and
 * loses its content: text and Yjs update empty, mentions and attachment refs gone, and
 * `redacted: true` added. Every way an event leaves the node serves this form once the
 * message was erased or expired (retention.ts decides which), and the embedded store
 * rewrites the stored payload to it (a JSON merge patch, RFC 7396, applied in the append
 * that erases: `AppendOptions.patches`).
 */
import type { StoredEvent } from '../store/index.js';

/** The merge patch that redacts a content event of this type; undefined for other types. */
export function redactionPatch(type: string): Readonly<Record<string, unknown>> | undefined {
  if (type === 'MessagePosted') return POSTED;
  if (type === 'MessageBodyEdited') return EDITED;
  return undefined;
}

// null removes a member (RFC 7396).
const POSTED = Object.freeze({ text: '', mentions: null, attachments: null, redacted: true });
const EDITED = Object.freeze({ text: '', update: '', redacted: true });

/** Whether the event carries message content that redaction removes. */
export function isContentEvent(event: { type: string }): boolean {
  return redactionPatch(event.type) !== undefined;
}

/** The message a content event belongs to. */
export function contentMessageId(event: { type: string; data: unknown }): string | undefined {
  if (!isContentEvent(event)) return undefined;
  const id = (event.data as { messageId?: unknown } | null)?.messageId;
  return typeof id === 'string' ? id : undefined;
}

/** The event with its content removed (the same event when it carries none). Pure. */
export function redactEvent<E extends Pick<StoredEvent, 'type' | 'data'>>(event: E): E {
  const patch = redactionPatch(event.type);
  if (!patch || typeof event.data !== 'object' || event.data === null) return event;
  return { ...event, data: mergePatch(event.data as Record<string, unknown>, patch) };
}

/** A flat RFC 7396 merge: what the embedded store's `json_patch` does to the stored payload. */
function mergePatch(data: Record<string, unknown>, patch: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...data };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = value;
  }
  return out;
}
