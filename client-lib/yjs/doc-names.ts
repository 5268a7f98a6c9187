/**
 * Names of the documents the server syncs, and the seed of a message body. Mirrors
 * sync/doc-name.ts and sync/events.ts on the server.
 */
import * as Y from 'yjs';

export const docNames = {
  /** A message's body; its author writes, the conversation's members read. */
  messageBody: (conversationId: string, messageId: string): string => `msg:${conversationId}:${messageId}`,
  /** A conversation's shared notes; its members read and write. */
  notes: (conversationId: string): string => `notes:${conversationId}`,
  /** One user's draft in one conversation; only that user reads and writes. */
  draft: (userId: string, conversationId: string): string => `draft:${userId}:${conversationId}`,
};

/** The Y.Text holding a document's plain text (the text the server's events carry). */
export const TEXT_NAME = 'text';

/**
 * Puts a message's posted text into its body document exactly as the server does (client
 * id 0, one insert), so a device that has the post but never synced the body can edit it
 * offline and still merge: the seed's items are identical everywhere.
 */
export function seedMessageBody(doc: Y.Doc, postedText: string): void {
  const seed = new Y.Doc();
  seed.clientID = 0;
  if (postedText.length > 0) seed.getText(TEXT_NAME).insert(0, postedText);
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(seed));
  seed.destroy();
}
