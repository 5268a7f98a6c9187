/**
 * Yjs documents on the client: `DocumentSync` keeps a Y.Doc in sync with the server's
 * copy (`/v1/sync/<docName>`), persists it through a `DocumentStorage`, and merges
 * offline edits on reconnect. Browser-safe. The package's `@parley/client/yjs` entry, kept
 * apart from the Yjs-free main entry so apps can load it (and Yjs) lazily.
 */
export { DocumentSync, type DocumentSyncOptions, type SyncStatus, type WebSocketLike } from './document-sync.js';
export { type DocumentStorage, type KeyValueStorage, MemoryDocumentStorage, documentStorageOn } from './document-storage.js';
export { docNames } from '../../protocol/index.js';
export { seedMessageBody, TEXT_NAME } from '../../protocol/yjs/index.js';
export { Documents, type DocumentsOptions } from './documents.js';
export {
  syncWithPeers,
  signalingUrl,
  type PeerToPeerOptions,
  type PeerToPeerSync,
  type WebrtcProviderClass,
  type WebrtcProviderLike,
} from './peer-to-peer.js';
