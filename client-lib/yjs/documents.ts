/**
 * Yjs documents as a client extension: `createClient({ extensions: [documents] })` and then
 * `documents.notes(conversationId)`, `documents.messageBody(conversationId, messageId)` or
 * `documents.draft(conversationId)` give a `DocumentSync` that uses the client's URL,
 * token provider and durable storage, so offline edits survive restarts and merge on
 * reconnect. One `DocumentSync` per document, shared by every caller, closed with the client.
 */
import type { ClientExtension, ExtensionContext } from '../extension.js';
import { DocumentSync, type DocumentSyncOptions } from './document-sync.js';
import { documentStorageOn } from './document-storage.js';
import { docNames } from '../../protocol/index.js';
import { seedMessageBody } from '../../protocol/yjs/index.js';

export interface DocumentsOptions {
  /** Opens a document socket; default: the global WebSocket with `?token=` (browsers). */
  openSocket?: DocumentSyncOptions['openSocket'];
}

export class Documents implements ClientExtension {
  readonly name = 'documents';
  private context: ExtensionContext | null = null;
  private readonly open = new Map<string, DocumentSync>();

  constructor(private readonly options: DocumentsOptions = {}) {}

  attach(context: ExtensionContext): void {
    this.context = context;
  }

  async detach(): Promise<void> {
    await Promise.all([...this.open.values()].map((d) => d.destroy()));
    this.open.clear();
  }

  /** The shared notes of a conversation: every member edits them. */
  notes(conversationId: string): DocumentSync {
    return this.document(docNames.notes(this.serverId(conversationId)));
  }

  /**
   * A message's body, editable by its author after posting. `postedText` seeds the body
   * exactly as the server does, so edits made before the first sync still merge.
   */
  messageBody(conversationId: string, messageId: string, postedText?: string): DocumentSync {
    const sync = this.document(docNames.messageBody(this.serverId(conversationId), this.serverId(messageId)));
    if (postedText !== undefined) void sync.loaded.then(() => seedMessageBody(sync.doc, postedText));
    return sync;
  }

  /** This user's draft in a conversation, shared by their own devices only. */
  draft(conversationId: string): DocumentSync {
    return this.document(docNames.draft(this.ctx.userId, this.serverId(conversationId)));
  }

  /** Any document by its name. */
  document(docName: string): DocumentSync {
    let sync = this.open.get(docName);
    if (!sync) {
      sync = new DocumentSync({
        url: this.ctx.url,
        docName,
        token: this.ctx.token,
        storage: documentStorageOn(this.ctx.storage),
        openSocket: this.options.openSocket,
      });
      this.open.set(docName, sync);
    }
    return sync;
  }

  private get ctx(): ExtensionContext {
    if (!this.context) throw new Error('documents: pass it to createClient({ extensions }) first');
    return this.context;
  }

  /** Documents are named by server ids: a conversation or message created offline must be acked first. */
  private serverId(id: string): string {
    if (!id.startsWith('local:')) return id;
    const resolved = this.ctx.resolveId(id);
    if (!resolved) throw new Error(`${id} has not reached the server yet; open its documents once it is acked`);
    return resolved;
  }
}
