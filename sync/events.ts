/**
 * The events sync appends. Each carries the update the server accepted (base64 of a Yjs
 * v1 update: exactly what the update integrated into the server's document) and the
 * document's plain text after it, so read models and analytics never decode Yjs, and
 * replaying the updates of a document in log order rebuilds it as of any point.
 *
 *   conversation-<id>:  MessageBodyEdited { messageId, update, text }
 *                       NotesUpdated      { update, text }
 *   user-<id>:          DraftUpdated      { conversationId, update, text }
 *
 * `text` is `doc.getText('text').toString()`: the one Y.Text every Parley document uses.
 *
 * A message body's history starts with its `MessagePosted`: the posted text, inserted by
 * the reserved client id 0 (`seedUpdate`, protocol/yjs/index.ts). The seed is the
 * same bytes wherever it is made, so server and clients can each make it and merging them
 * changes nothing.
 */
import type { StoredEvent } from './engine-types.js';
import { conversationIdOf } from '../engine/store/index.js';
import { asKnown } from '../projections/index.js';
import { docNames, type DocRef, type KnownEvent } from '../protocol/index.js';
import { seedUpdate } from '../protocol/yjs/index.js';

export type MessageBodyEdited = KnownEvent<'MessageBodyEdited'>;
export type NotesUpdated = KnownEvent<'NotesUpdated'>;
export type DraftUpdated = KnownEvent<'DraftUpdated'>;
export type DocumentEvent = MessageBodyEdited | NotesUpdated | DraftUpdated;

export const DOCUMENT_EVENT_TYPES = ['MessageBodyEdited', 'NotesUpdated', 'DraftUpdated'] as const;
/** Events that put content into a document: the document events and a message's post. */
export const CONTENT_EVENT_TYPES = ['MessagePosted', ...DOCUMENT_EVENT_TYPES] as const;

/** The event recording `update` (already integrated) for the document `ref`. */
export function documentEvent(ref: DocRef, update: Uint8Array, text: string): DocumentEvent {
  const encoded = toBase64(update);
  switch (ref.kind) {
    case 'message':
      return { type: 'MessageBodyEdited', data: { messageId: ref.messageId, update: encoded, text } };
    case 'notes':
      return { type: 'NotesUpdated', data: { update: encoded, text } };
    case 'draft':
      return { type: 'DraftUpdated', data: { conversationId: ref.conversationId, update: encoded, text } };
  }
}

/** The document a stored event updates, or undefined when it is not a document event. */
export function docNameOfEvent(stored: StoredEvent): string | undefined {
  const e = asKnown(stored);
  switch (e.type) {
    case 'MessagePosted': {
      const c = conversationIdOf(e.stream);
      return c ? docNames.messageBody(c, e.data.messageId) : undefined;
    }
    case 'MessageBodyEdited': {
      const c = conversationIdOf(e.stream);
      return c ? docNames.messageBody(c, e.data.messageId) : undefined;
    }
    case 'NotesUpdated': {
      const c = conversationIdOf(e.stream);
      return c ? docNames.notes(c) : undefined;
    }
    case 'DraftUpdated':
      return e.stream.startsWith('user-') ? docNames.draft(e.stream.slice('user-'.length), e.data.conversationId) : undefined;
    default:
      return undefined;
  }
}

/** The update bytes a document event carries. */
export function updateOf(e: StoredEvent): Uint8Array {
  if (e.type === 'MessagePosted') return seedUpdate((e.data as { text: string }).text);
  return fromBase64((e.data as { update: string }).update);
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export function fromBase64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'));
}
