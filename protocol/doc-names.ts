/**
 * Document names. Every Yjs document Parley syncs has a name that says what it belongs to
 * and therefore who may write it (sync/write-rule.ts). The server parses them; clients
 * build them to open `/v1/sync/<docName>`, so both take them from here.
 *
 *   msg:<conversationId>:<messageId>     a message body after posting
 *   notes:<conversationId>               a conversation's shared notes
 *   draft:<userId>:<conversationId>      one user's draft in one conversation
 *
 * Conversation and message ids are UUIDs (no `:`); a user id may contain anything, so a
 * draft's user id is everything between the first and the last `:`.
 */
export type DocRef =
  | { kind: 'message'; conversationId: string; messageId: string }
  | { kind: 'notes'; conversationId: string }
  | { kind: 'draft'; userId: string; conversationId: string };

const ID = /^[A-Za-z0-9_-]{1,100}$/;

export const docNames = {
  /** A message's body; its author writes, the conversation's members read. */
  messageBody: (conversationId: string, messageId: string): string => `msg:${conversationId}:${messageId}`,
  /** A conversation's shared notes; its members read and write. */
  notes: (conversationId: string): string => `notes:${conversationId}`,
  /** One user's draft in one conversation; only that user reads and writes. */
  draft: (userId: string, conversationId: string): string => `draft:${userId}:${conversationId}`,
};

/** The document a name refers to, or null when the name is not one of the three forms. */
export function parseDocName(name: string): DocRef | null {
  const first = name.indexOf(':');
  if (first < 0) return null;
  const kind = name.slice(0, first);
  const rest = name.slice(first + 1);
  if (kind === 'notes') return ID.test(rest) ? { kind: 'notes', conversationId: rest } : null;
  const last = rest.lastIndexOf(':');
  if (last < 0) return null;
  const a = rest.slice(0, last);
  const b = rest.slice(last + 1);
  if (kind === 'msg') return ID.test(a) && ID.test(b) ? { kind: 'message', conversationId: a, messageId: b } : null;
  if (kind === 'draft') return a.length > 0 && a.length <= 200 && ID.test(b) ? { kind: 'draft', userId: a, conversationId: b } : null;
  return null;
}

/** The name of the document `ref`: the inverse of `parseDocName`. */
export function docNameOf(ref: DocRef): string {
  switch (ref.kind) {
    case 'message':
      return docNames.messageBody(ref.conversationId, ref.messageId);
    case 'notes':
      return docNames.notes(ref.conversationId);
    case 'draft':
      return docNames.draft(ref.userId, ref.conversationId);
  }
}
