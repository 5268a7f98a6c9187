/**
 * The Node entry (`@parley/client/node`): everything of the browser entry and of the Yjs entry
 * (bundle size does not matter here), plus `FileStorage` and a `createClient` that uses the
 * `ws` package for its WebSocket.
 */
import WebSocket from 'ws';
import { createClient as createBrowserClient, type ClientOptions, type ParleyClient } from './client.js';
import type { WebSocketConstructor } from './connection.js';

import { Documents, type DocumentsOptions } from './yjs/index.js';

export * from './index.js';
export * from './yjs/index.js';
// Both entries name a `WebSocketLike`; the client's (connection.ts) is the one exported here, as before.
export type { WebSocketLike } from './connection.js';
export { FileStorage } from './file-storage.js';

/** Yjs documents for Node: document sockets carry the token in an Authorization header. */
export function nodeDocuments(options: DocumentsOptions = {}): Documents {
  return new Documents({
    openSocket: (url, token) => new WebSocket(url, { headers: { authorization: `Bearer ${token}` } }) as never,
    ...options,
  });
}

/** `createClient` with `ws` as the WebSocket unless another is given. */
export function createClient(options: ClientOptions): Promise<ParleyClient> {
  return createBrowserClient({ ...options, WebSocket: options.WebSocket ?? (WebSocket as unknown as WebSocketConstructor) });
}
