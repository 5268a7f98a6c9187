/**
 * Yjs documents for what people edit: message bodies (their author), conversation notes
 * (the members), drafts (their user). y-protocols sync over `/v1/sync/:docName`, one write
 * rule per document, every accepted update appended to the log as an event, snapshots for
 * bounded loading. Add it to a node with `startNode({ extensions: [syncExtension()] })`.
 */
import type { SyncNodeExtension } from './engine-types.js';
import { documentsProjection } from './document-log.js';
import { SyncServer, type SyncOptions } from './sync-server.js';
import { SignalingServer, type SignalingOptions } from './signaling/index.js';

export { docNames, parseDocName, docNameOf, type DocRef } from '../protocol/index.js';
export { TEXT_NAME } from '../protocol/yjs/index.js';
export {
  DOCUMENT_EVENT_TYPES,
  docNameOfEvent,
  type DocumentEvent,
  type MessageBodyEdited,
  type NotesUpdated,
  type DraftUpdated,
} from './events.js';
export { rebuildDocument, loadDocument, documentsProjection, type AsOf, type LoadedDocument } from './document-log.js';
export { readRefusal, writeRefusal } from './write-rule.js';
export { SYNC_LIMITS, type SyncLimits } from './limits/index.js';
export type { SyncOptions, SyncServer } from './sync-server.js';
export type { SyncHost, SyncNodeExtension } from './host.js';
export type { SignalingOptions, SignalingServer } from './signaling/index.js';

/** A sync extension; `server` is set once the node registered it (for tests and ops). */
export interface SyncExtension extends SyncNodeExtension {
  server: SyncServer | null;
  /** The y-webrtc signaling endpoint (`/v1/signaling`), null when turned off or not registered yet. */
  signaling: SignalingServer | null;
}

/**
 * The Yjs sync layer as a node extension: its route, its read model, its feed consumer, and
 * the y-webrtc signaling route that lets a document's readers find each other (peer to
 * peer edits; `signaling: false` leaves it out).
 */
export function syncExtension(options: SyncOptions & { signaling?: SignalingOptions | false } = {}): SyncExtension {
  const ext: SyncExtension = {
    name: 'sync',
    projections: [documentsProjection({ snapshotEvery: options.snapshotEvery })],
    server: null,
    signaling: null,
    register(ctx) {
      const server = new SyncServer(ctx, options);
      ext.server = server;
      server.register();
      if (options.signaling === false) return;
      // The write rule, not only the read rule: what peers send each other directly is never
      // checked by the node, so a topic is for those who could send the same through it.
      ext.signaling = new SignalingServer(ctx, (ref, userId) => server.refusal(ref, userId, 'write'), options.signaling);
      ext.signaling.register();
    },
    async close() {
      ext.signaling?.close();
      await ext.server?.close();
    },
  };
  return ext;
}
