/**
 * Hostile y-protocols messages for the sync endpoint (`/v1/sync/<doc>`, wire format in
 * sync/wire.ts): truncated varints, lengths far past the frame, unknown message types,
 * garbage and dependency-less Yjs updates (which a naive server keeps pending for ever),
 * forged awareness (other clients' ids, invalid JSON states, thousands of entries), and
 * some valid messages so the paths behind the checks are reached too.
 */
import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';
import { hostileString, PROTOTYPE_KEYS } from './hostile-inputs.js';
import type { Random } from './seeded-random.js';

export interface SyncInput {
  /** Binary y-protocols bytes, or text (which the protocol does not use), or a burst of messages sent back to back. */
  data: Uint8Array | string | Uint8Array[];
  how: string;
}

const SYNC = 0;
const AWARENESS = 1;
const AUTH = 2;
const QUERY_AWARENESS = 3;
const STEP1 = 0;
const STEP2 = 1;
const UPDATE = 2;

function frame(write: (e: encoding.Encoder) => void): Uint8Array {
  const e = encoding.createEncoder();
  write(e);
  return encoding.toUint8Array(e);
}

function syncFrame(syncType: number, bytes: Uint8Array): Uint8Array {
  return frame((e) => {
    encoding.writeVarUint(e, SYNC);
    encoding.writeVarUint(e, syncType);
    encoding.writeVarUint8Array(e, bytes);
  });
}

function randomBytes(rng: Random, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = rng.int(256);
  return b;
}

/** A valid Yjs update inserting `text` into the document's `text`, from a fresh client. */
export function insertUpdate(text: string, clientID?: number): Uint8Array {
  const doc = new Y.Doc();
  if (clientID !== undefined) doc.clientID = clientID;
  doc.getText('text').insert(0, text);
  const u = Y.encodeStateAsUpdate(doc);
  doc.destroy();
  return u;
}

/** An update whose dependencies (an earlier update of the same client) are never sent. */
export function orphanUpdate(rng: Random, bytes: number): Uint8Array {
  const doc = new Y.Doc();
  doc.clientID = rng.between(1, 0x7fffffff);
  doc.getText('text').insert(0, 'dependency that never arrives');
  const before = Y.encodeStateVector(doc);
  doc.getText('text').insert(3, 'x'.repeat(Math.max(1, bytes)));
  const u = Y.encodeStateAsUpdate(doc, before);
  doc.destroy();
  return u;
}

function awarenessEntries(rng: Random, entries: Array<{ clientID: number; clock: number; state: string }>): Uint8Array {
  return frame((e) => {
    encoding.writeVarUint(e, AWARENESS);
    encoding.writeVarUint8Array(
      e,
      frame((inner) => {
        encoding.writeVarUint(inner, entries.length);
        for (const x of entries) {
          encoding.writeVarUint(inner, x.clientID);
          encoding.writeVarUint(inner, x.clock);
          encoding.writeVarString(inner, x.state);
        }
      }),
    );
  });
}

function awarenessState(rng: Random): string {
  return rng.weighted<() => string>([
    [3, () => JSON.stringify({ user: { name: rng.pick(['alice', 'bob', 'mallory']), color: '#f00' }, cursor: { anchor: rng.int(100) } })],
    [1, () => 'null'],
    [1, () => '{'],
    [1, () => JSON.stringify(hostileString(rng, 256))],
    [1, () => `{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}`],
    [1, () => '['.repeat(5000) + ']'.repeat(5000)],
    [1, () => JSON.stringify({ user: { name: 'x'.repeat(20_000) } })],
    [1, () => JSON.stringify(Object.fromEntries(PROTOTYPE_KEYS.map((k) => [k, 1])))],
  ])();
}

/**
 * One hostile message. `victims` are awareness client ids other sockets have used, to
 * forge them; `knownClientIDs` are Yjs client ids seen in the document.
 */
export function hostileSyncMessage(rng: Random, victims: readonly number[] = []): SyncInput {
  const clientID = () => rng.weighted<number>([
    [3, victims.length > 0 ? rng.pick(victims) : rng.int(1000)],
    [1, 0],
    [1, 0xffffffff],
    [1, Number.MAX_SAFE_INTEGER],
    [2, rng.between(1, 0x7fffffff)],
  ]);
  const kind = rng.weighted<string>([
    [4, 'valid-update'],
    [3, 'orphan-update'],
    [3, 'garbage-update'],
    [2, 'garbage-step2'],
    [2, 'garbage-step1'],
    [2, 'truncated-varint'],
    [2, 'huge-length'],
    [2, 'unknown-type'],
    [4, 'forged-awareness'],
    [1, 'many-awareness'],
    [1, 'query-awareness'],
    [1, 'client-auth'],
    [1, 'empty'],
    [1, 'text-frame'],
    [1, 'valid-step1'],
    [1, 'trailing-garbage'],
    [1, 'orphan-burst'],
  ]);
  const data = ((): Uint8Array | string | Uint8Array[] => {
    switch (kind) {
      case 'valid-update':
        return syncFrame(rng.pick([UPDATE, STEP2]), insertUpdate(rng.chance(0.5) ? hostileString(rng, 1024) : 'fuzz ', rng.chance(0.3) ? clientID() : undefined));
      case 'orphan-burst':
        // Updates whose dependencies never arrive, fast: what a server keeps pending must be bounded.
        return Array.from({ length: 40 }, () => syncFrame(UPDATE, orphanUpdate(rng, 30_000)));
      case 'orphan-update':
        return syncFrame(rng.pick([UPDATE, STEP2]), orphanUpdate(rng, rng.pick([10, 1000, 30_000])));
      case 'garbage-update':
        return syncFrame(UPDATE, randomBytes(rng, rng.pick([1, 2, 7, 100, 4000])));
      case 'garbage-step2':
        return syncFrame(STEP2, randomBytes(rng, rng.pick([1, 5, 300])));
      case 'garbage-step1':
        return syncFrame(STEP1, rng.chance(0.5) ? randomBytes(rng, rng.pick([1, 5, 300])) : frame((e) => encoding.writeVarUint(e, 0xffffffff)));
      case 'truncated-varint':
        return rng.pick([new Uint8Array([0x80]), new Uint8Array([SYNC, 0x80]), new Uint8Array([SYNC, UPDATE, 0xff]), new Uint8Array([AWARENESS, 0xff, 0xff]), new Uint8Array([SYNC])]);
      case 'huge-length':
        return frame((e) => {
          encoding.writeVarUint(e, rng.pick([SYNC, AWARENESS]));
          if (rng.chance(0.5)) encoding.writeVarUint(e, UPDATE);
          encoding.writeVarUint(e, rng.pick([2 ** 31, 2 ** 32 - 1, Number.MAX_SAFE_INTEGER, 60_000]));
          encoding.writeUint8Array(e, randomBytes(rng, 8));
        });
      case 'unknown-type':
        return frame((e) => {
          encoding.writeVarUint(e, rng.pick([4, 9, 127, 2 ** 31, Number.MAX_SAFE_INTEGER]));
          encoding.writeUint8Array(e, randomBytes(rng, rng.int(8)));
        });
      case 'forged-awareness':
        return awarenessEntries(rng, [{ clientID: clientID(), clock: rng.pick([0, 1, rng.int(1000), 0xffffffff]), state: awarenessState(rng) }]);
      case 'many-awareness':
        return awarenessEntries(
          rng,
          Array.from({ length: rng.pick([100, 2000]) }, (_, i) => ({ clientID: i + 1, clock: 1, state: '{"a":1}' })),
        );
      case 'query-awareness':
        return new Uint8Array([QUERY_AWARENESS]);
      case 'client-auth':
        return frame((e) => {
          encoding.writeVarUint(e, AUTH);
          encoding.writeVarUint(e, 0);
          encoding.writeVarString(e, hostileString(rng, 256));
        });
      case 'empty':
        return new Uint8Array(0);
      case 'text-frame':
        return hostileString(rng, 512);
      case 'valid-step1':
        return syncFrame(STEP1, new Uint8Array([0]));
      case 'trailing-garbage': {
        const valid = syncFrame(UPDATE, insertUpdate('t'));
        const out = new Uint8Array(valid.length + 16);
        out.set(valid);
        out.set(randomBytes(rng, 16), valid.length);
        return out;
      }
      default:
        throw new Error(`unknown sync input kind ${kind}`);
    }
  })();
  return { data, how: kind };
}

/** Sync step 1 with an empty state vector: the server must answer with step 2. */
export const PROBE_STEP1 = syncFrame(STEP1, new Uint8Array([0]));

/** True when `data` is a sync step 2 frame (the answer to a step 1). */
export function isStep2(data: Uint8Array): boolean {
  return data.length >= 2 && data[0] === SYNC && data[1] === STEP2;
}

/** The coded error in an auth (permission denied) frame, or null. */
export function deniedCode(data: Uint8Array): string | null {
  if (data[0] !== AUTH) return null;
  const text = Buffer.from(data).toString('utf8');
  const m = /"code":"([a-z_]+)"/.exec(text);
  return m ? m[1]! : 'unknown';
}
