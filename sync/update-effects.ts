/**
 * What a Yjs update would do, found without touching the shared document: whether it is
 * empty, and whether it would change a document at all (a reader's step 2 carries back the
 * delete set it received from us, which changes nothing and is not a write).
 */
import * as Y from 'yjs';

/** True when the update has no structs and no deletes; throws when the bytes are not a Yjs update. */
export function isEmptyUpdate(update: Uint8Array): boolean {
  // The smallest update, "no structs, no deletes", is two zero bytes.
  if (update.length <= 2) return true;
  const decoded = Y.decodeUpdate(update);
  return decoded.structs.length === 0 && decoded.ds.clients.size === 0;
}

/** True when applying `update` would change `doc` (new items or new deletions); true when unsure. */
export function addsTo(doc: Y.Doc, update: Uint8Array): boolean {
  try {
    const diff = Y.decodeUpdate(Y.diffUpdate(update, Y.encodeStateVector(doc)));
    if (diff.structs.length > 0) return true;
    if (diff.ds.clients.size === 0) return false;
    const scratch = new Y.Doc();
    Y.applyUpdate(scratch, Y.encodeStateAsUpdate(doc));
    let changed = false;
    scratch.on('update', () => (changed = true));
    Y.applyUpdate(scratch, update);
    scratch.destroy();
    return changed;
  } catch {
    return true;
  }
}
