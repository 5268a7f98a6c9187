/**
 * Updates that arrived before what they build on, kept out of the shared document.
 *
 * Yjs keeps an update whose dependencies are missing inside the document (pending structs
 * and pending deletes) and, on every later update, merges it again with whatever is still
 * missing: memory grows without bound and each write costs as much as everything pending
 * (a client can send updates whose dependencies never come). It would also make the next
 * writer's event carry another writer's content, and send it to every reader in step 2.
 *
 * So after every update applied to a room's document, what Yjs set aside is moved into the
 * record of the writer that sent it (`setAside`); the document itself never holds pending
 * state. The record remembers, per Yjs client, the state it waits for; once the document
 * moves past it (`wakes`) the record is merged and applied again, once, as a write of the
 * same writer. Records are counted in ledgers (per user, per document) with hard bounds.
 */
import * as Y from 'yjs';

/** One writer's set-aside updates (Yjs v2 encoding), and what they wait for. */
export class PendingUpdates {
  private fragments: Uint8Array[] = [];
  /** Yjs client → its state when set aside: any progress past it may integrate something. */
  private readonly waitsFor = new Map<number, number>();
  bytes = 0;
  updates = 0;

  get empty(): boolean {
    return this.fragments.length === 0;
  }

  /**
   * Moves what `doc` could not integrate into this record, leaving the document with no
   * pending state. Returns the bytes and updates added (zero when everything integrated).
   */
  setAside(doc: Y.Doc): { bytes: number; updates: number } {
    const store = doc.store;
    const structs = store.pendingStructs;
    const deletes = store.pendingDs;
    store.pendingStructs = null;
    store.pendingDs = null;
    let bytes = 0;
    if (structs) {
      this.fragments.push(structs.update);
      bytes += structs.update.byteLength;
      for (const [client, clock] of structs.missing) this.wait(client, clock);
    }
    if (deletes) {
      this.fragments.push(deletes);
      bytes += deletes.byteLength;
      // A delete of something not there yet: wait for any progress of that client.
      for (const client of Y.decodeUpdateV2(deletes).ds.clients.keys()) this.wait(client, Y.getState(store, client));
    }
    if (bytes === 0) return { bytes: 0, updates: 0 };
    this.bytes += bytes;
    this.updates += 1;
    return { bytes, updates: 1 };
  }

  /** True when Yjs client `client` reaching `state` may let something here integrate. */
  wakes(client: number, state: number): boolean {
    const waited = this.waitsFor.get(client);
    return waited !== undefined && waited < state;
  }

  /** Everything held, merged into one v2 update, and the record emptied (null when empty). */
  drain(): Uint8Array | null {
    const fragments = this.fragments;
    this.clear();
    if (fragments.length === 0) return null;
    return fragments.length === 1 ? fragments[0]! : Y.mergeUpdatesV2(fragments);
  }

  clear(): void {
    this.fragments = [];
    this.waitsFor.clear();
    this.bytes = 0;
    this.updates = 0;
  }

  private wait(client: number, clock: number): void {
    const known = this.waitsFor.get(client);
    if (known === undefined || clock < known) this.waitsFor.set(client, clock);
  }
}

/** Bytes and updates held per key (a user, a document), against fixed bounds. */
export class PendingLedger {
  private readonly held = new Map<string, { bytes: number; updates: number }>();

  constructor(private readonly limits: { bytes: number; updates: number }) {}

  /** True when holding `bytes`/`updates` more for `key` would pass a bound. */
  wouldExceed(key: string, bytes: number, updates: number): boolean {
    const h = this.held.get(key);
    return (h?.bytes ?? 0) + bytes > this.limits.bytes || (h?.updates ?? 0) + updates > this.limits.updates;
  }

  add(key: string, bytes: number, updates: number): void {
    const h = this.held.get(key) ?? { bytes: 0, updates: 0 };
    h.bytes += bytes;
    h.updates += updates;
    if (h.bytes <= 0 && h.updates <= 0) this.held.delete(key);
    else this.held.set(key, h);
  }

  heldBy(key: string): { bytes: number; updates: number } {
    return { ...(this.held.get(key) ?? { bytes: 0, updates: 0 }) };
  }
}
