/**
 * The sync endpoint's wire format as the client speaks it: y-protocols over one binary
 * WebSocket per document (`/v1/sync/<docName>`), as y-websocket does.
 *
 *   0 sync        [syncType, bytes]  0 step 1 (state vector) · 1 step 2 (the diff the
 *                                    peer lacks) · 2 update
 *   1 awareness   [awarenessUpdate]  presence and cursors; relayed by the server, never stored
 *   2 auth        [0, reason]        permission denied; `reason` is the JSON `{code, message}`
 *                                    of a Parley error (e.g. `not_author`): the update it
 *                                    answers was neither stored nor forwarded
 *   3 query awareness
 *
 * The message types come from protocol/sync-frames.ts, as the server's do (sync/wire.ts);
 * they are y-protocols' own numbers.
 */
import * as encoding from 'lib0/encoding';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';
import type * as Y from 'yjs';
import { MESSAGE_AWARENESS, MESSAGE_SYNC } from '../../protocol/index.js';

export { MESSAGE_SYNC, MESSAGE_AWARENESS, MESSAGE_AUTH, MESSAGE_QUERY_AWARENESS } from '../../protocol/index.js';

export function writeStep1(doc: Y.Doc): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MESSAGE_SYNC);
  syncProtocol.writeSyncStep1(encoder, doc);
  return encoding.toUint8Array(encoder);
}

export function writeUpdate(update: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MESSAGE_SYNC);
  syncProtocol.writeUpdate(encoder, update);
  return encoding.toUint8Array(encoder);
}

export function writeAwareness(awareness: awarenessProtocol.Awareness, clients: number[]): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MESSAGE_AWARENESS);
  encoding.writeVarUint8Array(encoder, awarenessProtocol.encodeAwarenessUpdate(awareness, clients));
  return encoding.toUint8Array(encoder);
}
