/**
 * The message types of the sync endpoint (`/v1/sync/<docName>`): the first varUint of
 * every binary frame, as y-protocols and y-websocket number them. The server (sync/wire.ts)
 * and the client (client-lib/yjs/wire.ts) both take them from here; PROTOCOL.md describes
 * each frame's payload.
 */
/** Sync step 1, step 2 or an update (y-protocols/sync). */
export const MESSAGE_SYNC = 0;
/** An awareness update: presence and cursors, relayed, never stored. */
export const MESSAGE_AWARENESS = 1;
/** Permission denied (y-protocols/auth); Parley's reason is a JSON `{code, message}`. */
export const MESSAGE_AUTH = 2;
/** Asks for every awareness state the peer knows; no payload. */
export const MESSAGE_QUERY_AWARENESS = 3;
