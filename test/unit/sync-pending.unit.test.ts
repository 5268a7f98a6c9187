/**
 * Updates that wait for missing dependencies are kept out of the shared Y.Doc, in the
 * writer's own record, and are merged again only once the doc moved past what they wait for.
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { PendingLedger, PendingUpdates } from '../../sync/pending-updates.js';

/** Two consecutive updates of one client: `second` builds on `first`. */
function chain(): { first: Uint8Array; second: Uint8Array; deleteFirst: Uint8Array; text: string } {
  const doc = new Y.Doc();
  doc.getText('text').insert(0, 'hello');
  const first = Y.encodeStateAsUpdate(doc);
  const sv = Y.encodeStateVector(doc);
  doc.getText('text').insert(5, ' world');
  const second = Y.encodeStateAsUpdate(doc, sv);
  const sv2 = Y.encodeStateVector(doc);
  doc.getText('text').delete(0, 1);
  const deleteFirst = Y.encodeStateAsUpdate(doc, sv2);
  return { first, second, deleteFirst, text: 'ello world' };
}

describe('PendingUpdates', () => {
  it('takes what Yjs could not integrate out of the doc, and gives it back once the dependency arrived', () => {
    const { first, second, deleteFirst, text } = chain();
    const doc = new Y.Doc();
    const record = new PendingUpdates();
    Y.applyUpdate(doc, second);
    expect(record.setAside(doc).updates).toBe(1);
    Y.applyUpdate(doc, deleteFirst);
    record.setAside(doc);
    expect(doc.store.pendingStructs).toBeNull();
    expect(doc.store.pendingDs).toBeNull();
    expect(record.bytes).toBeGreaterThan(0);
    expect(record.updates).toBe(2);

    const clients: Array<[number, number]> = [];
    doc.on('afterTransaction', (tr: Y.Transaction) => {
      for (const [client, state] of tr.afterState) if ((tr.beforeState.get(client) ?? 0) !== state) clients.push([client, state]);
    });
    Y.applyUpdate(doc, first);
    expect(doc.getText('text').toString()).toBe('hello');
    expect(clients.some(([c, s]) => record.wakes(c, s))).toBe(true);

    Y.applyUpdateV2(doc, record.drain()!);
    expect(record.setAside(doc)).toEqual({ bytes: 0, updates: 0 });
    expect(record.empty).toBe(true);
    expect(doc.getText('text').toString()).toBe(text);
  });

  it('does not wake for progress of clients it does not wait for', () => {
    const { second } = chain();
    const doc = new Y.Doc();
    const record = new PendingUpdates();
    Y.applyUpdate(doc, second);
    record.setAside(doc);
    expect(record.wakes(12345, 10)).toBe(false);
  });
});

describe('PendingLedger', () => {
  it('refuses past either bound, per key, and frees what is removed', () => {
    const ledger = new PendingLedger({ bytes: 100, updates: 3 });
    expect(ledger.wouldExceed('u', 100, 1)).toBe(false);
    ledger.add('u', 60, 1);
    expect(ledger.wouldExceed('u', 41, 1)).toBe(true);
    expect(ledger.wouldExceed('other', 41, 1)).toBe(false);
    ledger.add('u', 10, 2);
    expect(ledger.wouldExceed('u', 1, 1)).toBe(true);
    ledger.add('u', -70, -3);
    expect(ledger.heldBy('u')).toEqual({ bytes: 0, updates: 0 });
    expect(ledger.wouldExceed('constructor', 1, 1)).toBe(false);
  });
});
