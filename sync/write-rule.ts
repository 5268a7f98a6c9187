/**
 * Who may read and who may write each document: exactly one rule per document kind,
 * decided from the whole document's identity, never from what an update touches (Yjs'
 * threat model: filtering fields inside an update is not a security boundary).
 *
 *   message body   read: the conversation's members    write: the message's author
 *   notes          read: the conversation's members    write: members whose role may edit notes (not guests)
 *   draft          read and write: the draft's user
 *
 * Pure functions over the conversation decider's state, so the same check runs before an
 * update is applied and again inside the version-checked append.
 */
import type { DocRef, ErrorCode } from '../protocol/index.js';
import { can } from '../engine/domain/index.js';
import type { domain } from './engine-types.js';

type ConversationState = Readonly<domain.ConversationState>;

/** Null when `userId` may read the document, else the error code to refuse with. */
export function readRefusal(ref: DocRef, userId: string, state: ConversationState | null): ErrorCode | null {
  if (ref.kind === 'draft') return ref.userId === userId ? null : 'forbidden';
  // Not existing and not being a member look the same from outside.
  if (!state || !state.exists || !state.members.has(userId)) return 'forbidden';
  if (ref.kind === 'message') {
    const message = state.messages.get(ref.messageId);
    if (!message) return 'message_not_found';
    if (message.deleted) return 'message_deleted';
    // Erased or expired (retention): closed to edits, and its content is no longer served.
    if (message.redacted) return 'message_erased';
  }
  return null;
}

/** Null when `userId` may write the document, else the error code to refuse with. */
export function writeRefusal(ref: DocRef, userId: string, state: ConversationState | null): ErrorCode | null {
  const cannotRead = readRefusal(ref, userId, state);
  if (cannotRead) return cannotRead;
  if (ref.kind === 'message' && state!.messages.get(ref.messageId)!.author !== userId) return 'not_author';
  // Guests read the notes but do not write them (permission table, engine/domain/permissions.ts).
  if (ref.kind === 'notes' && !can(state!, userId, 'editNotes')) return 'forbidden';
  return null;
}
