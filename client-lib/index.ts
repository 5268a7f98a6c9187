/**
 * `@parley/client`: Parley's offline-first client. This entry is browser-safe (no Node
 * imports) and Yjs-free, so a bundle that code-splits can keep Yjs out of its first load;
 * the Yjs documents are `@parley/client/yjs` (yjs/index.ts). Node apps import
 * `@parley/client/node`, which adds `FileStorage`, `ws` and the Yjs documents.
 * Built as its own package (package.json here); examples/ holds an app for each entry.
 *
 * ```ts
 * const client = await createClient({ url, userId: 'alice', token: () => getToken(), storage: await IndexedDbStorage.open('parley-alice') });
 * const room = await client.conversation(id);
 * room.messages.subscribe(render);
 * await room.send('hello'); // shown at once as pending, durable in the outbox, sent when online
 * ```
 */
export { createClient, ParleyClient, type ClientOptions } from './client.js';
export type { Presence } from './presence.js';
export { Conversation } from './conversation.js';
export { ConversationModeration } from './moderation.js';
export type { Role, ModerationView, ModerationQueue, ReportEntry, ReportOutcome, ReportStatus } from '../protocol/index.js';
export { Thread } from './threads.js';
export type { ThreadListEntry, Mention, ThreadPage } from '../protocol/index.js';
export { Attachments, type AttachmentRef, type DownloadLink, type UploadBody, type UploadOptions } from './attachments.js';
export type { ConnectionState, ConnectionStatus, TokenProvider, WebSocketConstructor, WebSocketLike } from './connection.js';
export type { ConversationSummary, Fetch } from './http.js';
export type { SearchHit } from '../protocol/index.js';
export type { Message, MessageView, HistoryMessage } from './messages.js';
export type { OutboxItem } from './outbox.js';
export type { OutboxFailure } from './sender.js';
export type { ClientExtension, ExtensionContext, AnyFrame } from './extension.js';
export { Value, Signal, when, type Observable } from './observable.js';
export { MemoryStorage, namespaced, type Storage } from './storage.js';
export { IndexedDbStorage } from './indexeddb-storage.js';
export { isLocalId } from './ids.js';
export type { BackoffOptions } from './backoff.js';
export { backoffDelay } from './backoff.js';
export { CLOSE, isFinalClose, ParleyError, isParleyError, type ErrorCode } from '../protocol/index.js';
