/**
 * Yjs documents (message bodies now, notes next) without Yjs in the shell: this stand-in
 * is the client extension given to `createClient`, and it keeps the context the client
 * hands it; the first edit loads the real `Documents` (and Yjs) as a separate chunk and
 * attaches it to that same context. Storage is namespaced by the extension's name, so the
 * stand-in carries the real one's name ('documents').
 */
import type { ClientExtension, ExtensionContext } from '../client-lib/index.js';
import type { Documents } from '../client-lib/yjs/index.js';

export class LazyDocuments implements ClientExtension {
  readonly name = 'documents';
  private context: ExtensionContext | undefined;
  private loading: Promise<Documents> | undefined;

  attach(context: ExtensionContext): void {
    this.context = context;
  }

  async detach(): Promise<void> {
    if (this.loading) await (await this.loading).detach();
  }

  /** Replaces the text of a message this user wrote (loads Yjs on first use). */
  async edit(conversationId: string, messageId: string, text: string): Promise<void> {
    const [documents, { editMessage }] = await Promise.all([this.load(), import('./message-edit.js')]);
    await editMessage(documents, conversationId, messageId, text);
  }

  /** Opens a conversation's shared notes in an editor inside `parent` (loads CodeMirror on first use). */
  async notes(parent: HTMLElement, conversationId: string, userName: string) {
    const [documents, { mountNotes }] = await Promise.all([this.load(), import('./notes-editor.js')]);
    return mountNotes(parent, documents, conversationId, userName);
  }

  /** The real extension, loaded on first use. */
  load(): Promise<Documents> {
    const context = this.context;
    if (!context) return Promise.reject(new Error('documents: not attached to a client yet'));
    this.loading ??= import('./message-edit.js').then(({ Documents }) => {
      const documents = new Documents();
      documents.attach(context);
      return documents;
    });
    return this.loading;
  }
}
