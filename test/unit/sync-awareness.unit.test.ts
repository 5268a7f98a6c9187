/**
 * Awareness client ids belong to the socket that first published a state for them; other
 * sockets' entries for them are dropped, and ids and states are bounded.
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { describe, expect, it } from 'vitest';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as Y from 'yjs';
import { AwarenessOwners, depthOf, type AwarenessHolder } from '../../sync/awareness-owners.js';

function update(entries: Array<[id: number, clock: number, state: unknown]>): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, entries.length);
  for (const [id, clock, state] of entries) {
    encoding.writeVarUint(e, id);
    encoding.writeVarUint(e, clock);
    encoding.writeVarString(e, typeof state === 'string' && state.startsWith('RAW:') ? state.slice(4) : JSON.stringify(state));
  }
  return encoding.toUint8Array(e);
}

function idsOf(u: Uint8Array | null): number[] {
  if (!u) return [];
  const d = decoding.createDecoder(u);
  const ids: number[] = [];
  for (let n = decoding.readVarUint(d); n > 0; n--) {
    ids.push(decoding.readVarUint(d));
    decoding.readVarUint(d);
    decoding.readVarString(d);
  }
  return ids;
}

function setup(clientsPerSocket = 8) {
  const awareness = new awarenessProtocol.Awareness(new Y.Doc());
  awareness.setLocalState(null);
  const owners = new AwarenessOwners<AwarenessHolder>(awareness, { clientsPerSocket, stateBytes: 1024, remembered: 4 });
  const holder = (userId: string): AwarenessHolder => ({ userId, awarenessClients: new Set() });
  const apply = (h: AwarenessHolder, u: Uint8Array) => {
    const v = owners.filter(h, u);
    if (v.update) awarenessProtocol.applyAwarenessUpdate(awareness, v.update, h);
    return v;
  };
  return { awareness, owners, holder, apply };
}

describe('AwarenessOwners', () => {
  it("drops another socket's entries for a client id it does not own (a forgery or an echo)", () => {
    const { awareness, holder, apply } = setup();
    const alice = holder('alice');
    const mallory = holder('mallory');
    expect(idsOf(apply(alice, update([[1, 1, { name: 'alice' }]])).update)).toEqual([1]);
    const forged = apply(mallory, update([[1, 9, { name: 'forged' }], [2, 1, { name: 'mallory' }]]));
    expect(idsOf(forged.update)).toEqual([2]);
    expect(forged.foreign).toBe(1);
    expect(awareness.getStates().get(1)).toEqual({ name: 'alice' });
    // A removal of alice's id by mallory is dropped too.
    apply(mallory, update([[1, 10, null]]));
    expect(awareness.getStates().get(1)).toEqual({ name: 'alice' });
  });

  it('limits client ids per socket and refuses giant, deep or invalid states', () => {
    const { holder, apply } = setup(2);
    const m = holder('m');
    const v = apply(m, update([[1, 1, {}], [2, 1, {}], [3, 1, {}]]));
    expect(idsOf(v.update)).toEqual([1, 2]);
    expect(v.refused).toBe('limit_exceeded');
    expect(apply(m, update([[1, 2, { big: 'x'.repeat(2000) }]])).refused).toBe('limit_exceeded');
    expect(apply(m, update([[1, 2, `RAW:${'['.repeat(5000)}${']'.repeat(5000)}`]])).refused).toBe('limit_exceeded');
    expect(apply(m, update([[1, 2, 'RAW:{"a":']])).refused).toBe('invalid_request');
    expect(apply(m, new Uint8Array([5, 1])).refused).toBe('invalid_request');
  });

  it('a released id is taken back by the same user at the same clock, never by a stale echo of another', () => {
    const { awareness, owners, holder, apply } = setup();
    const alice = holder('alice');
    apply(alice, update([[7, 3, { name: 'alice' }]]));
    awarenessProtocol.removeAwarenessStates(awareness, owners.release(alice), null);
    expect(awareness.getStates().has(7)).toBe(false);

    const bob = holder('bob');
    expect(apply(bob, update([[7, 3, { name: 'alice' }]])).update).toBeNull();
    expect(awareness.getStates().has(7)).toBe(false);

    const again = holder('alice');
    expect(idsOf(apply(again, update([[7, 3, { name: 'alice' }]])).update)).toEqual([7]);
    expect(awareness.getStates().get(7)).toEqual({ name: 'alice' });
  });

  it('measures nesting outside strings only', () => {
    expect(depthOf('{"a":[1,{"b":2}]}')).toBe(3);
    expect(depthOf('"[[[[[["')).toBe(0);
    expect(depthOf('["\\"[[[", [1]]')).toBe(2);
  });
});
