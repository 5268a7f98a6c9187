/**
 * A conversation's shared notes in CodeMirror 6, bound to the notes' Yjs document with
 * y-codemirror.next: edits merge (also those made offline), other members' cursors show
 * with their names (awareness). Its own chunk, loaded when notes are first opened, so the
 * chat shell does not carry the editor.
 *
 * Remote cursor colours come from other people's awareness states and y-codemirror puts
 * them in a `style` attribute; the page's CSP (no inline styles) drops those, and the
 * caret takes its colour from app.css instead. Names are rendered as text.
 */
import { EditorState } from '@codemirror/state';
import { EditorView, keymap } from '@codemirror/view';
import { yCollab, yUndoManagerKeymap } from 'y-codemirror.next';
import type { Documents } from '../client-lib/yjs/index.js';

export { Documents } from '../client-lib/yjs/index.js';

export interface MountedNotes {
  destroy(): void;
  /** The browser's network went away or came back. */
  online(on: boolean): void;
}

export async function mountNotes(parent: HTMLElement, documents: Documents, conversationId: string, userName: string): Promise<MountedNotes> {
  const sync = documents.notes(conversationId);
  // What this device kept (offline edits included) is in before the editor shows.
  await sync.loaded;
  const text = sync.doc.getText('text');
  // Says where your edits are: on the server, or kept on this device until it is back.
  const status = document.createElement('p');
  status.className = 'notes-status';
  status.setAttribute('role', 'status');
  const showStatus = () => (status.textContent = sync.status === 'connected' ? 'Synced' : 'Offline: edits are kept on this device and merge when back');
  let saving = 0;
  const onUpdate = (_update: Uint8Array, origin: unknown) => {
    if (origin === sync) return;
    const mine = ++saving;
    status.textContent = 'Saving…';
    void sync.flush().then(() => {
      if (mine !== saving) return;
      if (sync.status === 'connected') showStatus();
      else status.textContent = 'Saved on this device: merges when back online';
    });
  };
  sync.doc.on('update', onUpdate);
  const offStatus = sync.on('status', showStatus);
  showStatus();
  parent.append(status);
  sync.awareness.setLocalStateField('user', { name: userName });
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: text.toString(),
      extensions: [
        keymap.of(yUndoManagerKeymap),
        EditorView.lineWrapping,
        EditorView.contentAttributes.of({ 'aria-label': 'Shared notes', 'aria-multiline': 'true' }),
        yCollab(text, sync.awareness),
      ],
    }),
  });
  return {
    destroy() {
      sync.doc.off('update', onUpdate);
      offStatus();
      status.remove();
      view.destroy();
      sync.awareness.setLocalState(null);
    },
    online(on) {
      if (on) sync.connect();
      else sync.disconnect();
    },
  };
}
