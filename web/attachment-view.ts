/**
 * Attachments in the web app: the composer's Attach button (files upload at once, then
 * ride on the next post) and, under a message, image thumbnails and file links. Download
 * URLs are signed and short-lived: each view keeps the ones it fetched (bounded) and asks
 * again once one is near its end, so re-rendering the list does not refetch every image.
 */
import type { AttachmentRef, ParleyClient } from '../client-lib/index.js';
import { h, fill } from './dom.js';

const THUMB_PX = 240;
const KEPT_LINKS = 500;

export interface AttachPicker {
  el: HTMLElement;
  /** The ids uploaded since the last post; clears the list. */
  take(): string[];
}

/** The Attach button and the list of files waiting for the next post. */
export function attachPicker(client: ParleyClient, conversationId: () => string): AttachPicker {
  const ready: AttachmentRef[] = [];
  const list = h('ul', { class: 'attach-list', 'aria-label': 'Files to send' });
  const status = h('span', { class: 'attach-status', role: 'status' });
  const file = h('input', { type: 'file', multiple: true, class: 'attach-input', 'aria-label': 'Attach files' });
  const render = () =>
    fill(
      list,
      ready.map((a, i) =>
        h('li', {}, `${a.name} (${sizeOf(a.size)})`, h('button', { type: 'button', class: 'attach-remove', 'aria-label': `Remove ${a.name}`, onclick: () => (ready.splice(i, 1), render()) }, '×')),
      ),
    );
  file.addEventListener('change', () => {
    const files = Array.from(file.files ?? []);
    file.value = '';
    for (const f of files) {
      status.textContent = `Uploading ${f.name}…`;
      client.attachments.upload(conversationId(), f).then(
        (a) => {
          ready.push(a);
          status.textContent = '';
          render();
        },
        (err: unknown) => (status.textContent = `${f.name} not attached: ${err instanceof Error ? err.message : String(err)}`),
      );
    }
  });
  const button = h('button', { type: 'button', class: 'attach', onclick: () => file.click() }, 'Attach');
  return {
    el: h('div', { class: 'attach-picker' }, button, file, list, status),
    take: () => {
      const ids = ready.map((a) => a.id);
      ready.length = 0;
      render();
      return ids;
    },
  };
}

/** Signed download URLs of one conversation's attachments, fetched once and renewed near expiry. */
export function downloadLinks(client: ParleyClient, conversationId: () => string) {
  const links = new Map<string, Promise<{ url: string; expiresAt: number }>>();
  return (attachmentId: string): Promise<string> => {
    let link = links.get(attachmentId);
    if (!link) {
      link = client.attachments.downloadUrl(conversationId(), attachmentId);
      links.set(attachmentId, link);
      link.then(
        (l) => setTimeout(() => links.delete(attachmentId), Math.max(0, l.expiresAt - Date.now() - 30_000)),
        () => links.delete(attachmentId),
      );
      if (links.size > KEPT_LINKS) links.delete(links.keys().next().value!);
    }
    return link.then((l) => l.url);
  };
}

/** A message's attachments: images as thumbnails sized from their known dimensions, other files as links. */
export function attachmentList(attachments: readonly AttachmentRef[] | undefined, urlOf: (id: string) => Promise<string>): HTMLElement | null {
  if (!attachments || attachments.length === 0) return null;
  return h(
    'ul',
    { class: 'attachments', 'aria-label': 'Attachments' },
    attachments.map((a) => {
      const isImage = a.type.startsWith('image/');
      const link = h('a', { class: isImage ? 'attachment image' : 'attachment file', target: '_blank', rel: 'noopener', title: `${a.name} (${sizeOf(a.size)})` });
      if (isImage) {
        const scale = a.width && a.height ? Math.min(1, THUMB_PX / Math.max(a.width, a.height)) : 1;
        const img = h('img', { alt: a.name, loading: 'lazy', ...(a.width && a.height && { width: Math.round(a.width * scale), height: Math.round(a.height * scale) }) });
        link.append(img);
        void urlOf(a.id).then((url) => ((img.src = url), (link.href = url)), () => link.classList.add('unavailable'));
      } else {
        link.append(`📎 ${a.name} (${sizeOf(a.size)})`);
        void urlOf(a.id).then((url) => (link.href = url), () => link.classList.add('unavailable'));
      }
      return h('li', {}, link);
    }),
  );
}

function sizeOf(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
