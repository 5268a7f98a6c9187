/** A Yjs document synced with a test node over /v1/sync as `user`, with short retry pauses. */
import WebSocket from 'ws';
import { DocumentSync } from '../../client-lib/yjs/index.js';
import { tokenFor } from './node.js';

export function syncDocument(url: string, docName: string, user: string): DocumentSync {
  return new DocumentSync({
    url,
    docName,
    token: () => tokenFor(user),
    backoff: { initialMs: 20, maxMs: 200 },
    openSocket: (socketUrl, token) => new WebSocket(socketUrl, { headers: { authorization: `Bearer ${token}` } }) as never,
  });
}
