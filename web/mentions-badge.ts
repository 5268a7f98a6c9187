/**
 * The mentions badge in the top bar: how many messages mention you that you have not
 * marked read, refetched with the conversation list. Clicking it marks them all read.
 */
import type { ParleyClient } from '../client-lib/index.js';
import { h } from './dom.js';

export function mentionsBadge(client: ParleyClient): { el: HTMLElement; refresh(): void } {
  const count = h('span', { class: 'count' });
  const el = h('button', { type: 'button', class: 'mentions-badge', hidden: true, title: 'Mentions: click to mark read' }, '@ ', count);
  let shown = 0;
  const show = (unread: number) => {
    shown = unread;
    count.textContent = String(unread);
    el.hidden = unread === 0;
    el.setAttribute('aria-label', `${unread} unread ${unread === 1 ? 'mention' : 'mentions'}`);
  };
  const refresh = () => {
    if (client.connection.get().status !== 'online') return;
    client.mentions({ limit: 1 }).then((feed) => show(feed.unread), () => undefined);
  };
  el.addEventListener('click', () => {
    if (shown === 0) return;
    show(0);
    client.markMentionsRead().then(() => refresh(), () => refresh());
  });
  return { el, refresh };
}
