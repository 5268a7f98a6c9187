/**
 * The seed of a message body: the Yjs update that puts a message's posted text into its
 * empty body document. A body's history starts with its `MessagePosted`; the server
 * replays that post as this update, and a client that has the post but never synced the
 * body makes it itself, so it can edit offline and still merge. That works only if both
 * make the same bytes (same client id, same clock, one insert), so the seed is defined
 * here, once, and test/unit/message-body-seed.unit.test.ts pins its bytes: a change to it
 * (or a Yjs upgrade that encodes it differently) would make every stored body diverge from
 * the seeds clients make.
 *
 * Its own entry (protocol/yjs), not re-exported by protocol/index.ts: it is the one part
 * of the protocol that needs Yjs, and the rest stays importable without it.
 */
import * as Y from 'yjs';

/** The Y.Text every Parley document keeps its plain text in (the `text` events carry). */
export const TEXT_NAME = 'text';

/** The client id that inserts a message's posted text; no real replica uses it. */
export const SEED_CLIENT_ID = 0;

/** The update that puts a message's posted text into its empty body document. */
export function seedUpdate(postedText: string): Uint8Array {
  const doc = new Y.Doc();
  doc.clientID = SEED_CLIENT_ID;
  if (postedText.length > 0) doc.getText(TEXT_NAME).insert(0, postedText);
  const update = Y.encodeStateAsUpdate(doc);
  doc.destroy();
  return update;
}

/** Applies the seed to `doc`; a no-op where the seed (or a later edit of it) is already in. */
export function seedMessageBody(doc: Y.Doc, postedText: string): void {
  Y.applyUpdate(doc, seedUpdate(postedText));
}
