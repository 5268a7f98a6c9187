/**
 * The Node entry of client-lib: everything of the browser entry, plus `FileStorage` and
 * a `createClient` that uses the `ws` package for its WebSocket.
 */
import WebSocket from 'ws';
import { createClient as createBrowserClient, type ClientOptions, type ParleyClient } from './client.js';
import type { WebSocketConstructor } from './connection.js';

export * from './index.js';
export { FileStorage } from './file-storage.js';

/** `createClient` with `ws` as the WebSocket unless another is given. */
export function createClient(options: ClientOptions): Promise<ParleyClient> {
  return createBrowserClient({ ...options, WebSocket: options.WebSocket ?? (WebSocket as unknown as WebSocketConstructor) });
}
