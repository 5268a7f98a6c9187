/**
 * The sync endpoint's wire format: y-protocols over one binary WebSocket per document,
 * exactly as y-websocket speaks it, so stock providers and editor bindings work.
 *
 * Every frame is `[messageType: varUint, payload…]`:
 *
 *   0 sync        [syncType: varUint, bytes: varUint8Array]
 *                   syncType 0 step 1: the sender's state vector; the peer answers step 2
 *                   syncType 1 step 2: an update with what the peer lacks (a state-vector diff)
 *                   syncType 2 update: an update made after the sync
 *   1 awareness   [awarenessUpdate: varUint8Array]  presence and cursors; relayed, never stored
 *   2 auth        [0: varUint, reason: varString]   permission denied; Parley puts the coded
 *                                                    error `{"code","message"}` (JSON) in `reason`
 *   3 query awareness  (no payload) asks for every known awareness state
 *
 * On connect the server sends step 1 and the awareness states it knows; the client sends
 * its own step 1. Each side answers the other's step 1 with step 2, so each gets only what
 * it lacks. A refused update is answered with an auth frame and is neither stored nor
 * forwarded; the socket stays open (the user may still read). A socket that may not read
 * the document is closed with 4403 (4401 without a valid token), reason = error code.
 * y-protocols has no error frame that closes, so a client past a bound (README "Limits")
 * gets an auth frame `limit_exceeded` and then a transient close: 4503 `limit_exceeded`
 * (pending updates, queued frames), 4504 `limit_exceeded` (it does not read: no frame
 * first, its buffer is full), 4503 `rate_limited`; 1011 `internal` for an unexpected error.
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as authProtocol from 'y-protocols/auth';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { MESSAGE_AUTH, MESSAGE_AWARENESS, MESSAGE_QUERY_AWARENESS, MESSAGE_SYNC, type ErrorBody } from '../protocol/index.js';

export { MESSAGE_SYNC, MESSAGE_AWARENESS, MESSAGE_AUTH, MESSAGE_QUERY_AWARENESS } from '../protocol/index.js';

export const SYNC_STEP1 = syncProtocol.messageYjsSyncStep1;
export const SYNC_STEP2 = syncProtocol.messageYjsSyncStep2;
export const SYNC_UPDATE = syncProtocol.messageYjsUpdate;

export function writeSyncFrame(syncType: number, bytes: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MESSAGE_SYNC);
  encoding.writeVarUint(encoder, syncType);
  encoding.writeVarUint8Array(encoder, bytes);
  return encoding.toUint8Array(encoder);
}

export function writeAwarenessFrame(awareness: awarenessProtocol.Awareness, clients: number[]): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MESSAGE_AWARENESS);
  encoding.writeVarUint8Array(encoder, awarenessProtocol.encodeAwarenessUpdate(awareness, clients));
  return encoding.toUint8Array(encoder);
}

export function writeDeniedFrame(error: ErrorBody): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MESSAGE_AUTH);
  authProtocol.writePermissionDenied(encoder, JSON.stringify(error));
  return encoding.toUint8Array(encoder);
}

/** A client's frame, as the server acts on it. */
export type ClientFrame =
  | { type: 'step1'; stateVector: Uint8Array }
  /** Step 2 or an update: both are writes. */
  | { type: 'update'; update: Uint8Array }
  | { type: 'awareness'; update: Uint8Array }
  | { type: 'query-awareness' }
  | { type: 'auth' }
  | { type: 'unknown'; message: string };

/** Reads one frame from a client; throws when it is malformed (a step 1's state vector included). */
export function readFrame(data: Uint8Array): ClientFrame {
  const decoder = decoding.createDecoder(data);
  const type = decoding.readVarUint(decoder);
  switch (type) {
    case MESSAGE_SYNC: {
      const syncType = decoding.readVarUint(decoder);
      const bytes = decoding.readVarUint8Array(decoder);
      if (syncType === SYNC_STEP1) {
        Y.decodeStateVector(bytes); // throws on garbage
        return { type: 'step1', stateVector: bytes };
      }
      if (syncType === SYNC_STEP2 || syncType === SYNC_UPDATE) return { type: 'update', update: bytes };
      return { type: 'unknown', message: 'Unknown sync message type' };
    }
    case MESSAGE_AWARENESS:
      return { type: 'awareness', update: decoding.readVarUint8Array(decoder) };
    case MESSAGE_QUERY_AWARENESS:
      return { type: 'query-awareness' };
    case MESSAGE_AUTH:
      return { type: 'auth' };
    default:
      return { type: 'unknown', message: 'Unknown message type' };
  }
}
