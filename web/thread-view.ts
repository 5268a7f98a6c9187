/**
 * The thread pane beside a conversation: the root message, its replies (live; pending
 * ones marked until acked) and a reply box. Opening it fetches the newest replies and
 * marks them read as they are seen; the client holds the truth, the pane only renders.
 */
import type { Conversation, MessageView, ParleyClient } from '../client-lib/index.js';
import { h, fill, timeOf } from './dom.js';
import { textWithMentions } from './mention-text.js';

export function threadView(client: ParleyClient, conv: Conversation, rootId: string, members: () => string[], close: () => void): { el: HTMLElement; destroy(): void } {
  const me = client.userId;
  const thread = conv.thread(rootId);
  const rootEl = h('div', { class: 'thread-root' });
  const list = h('ol', { class: 'replies', role: 'log', 'aria-live': 'polite', 'aria-label': 'Replies' });
  const problem = h('p', { class: 'problem', role: 'status' });
  const input = h('textarea', { id: 'reply-composer', name: 'reply', rows: 1, placeholder: 'Reply in thread', 'aria-label': 'Reply' });
  const send = () => {
    const text = input.value.trim();
    if (!text) return;
    input.value = '';
    thread.reply(text).catch((err: unknown) => (problem.textContent = `Not stored: ${String(err)}`));
  };
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      send();
    }
  });
  let readUpTo = 0;
  const render = (replies: MessageView[]) => {
    fill(list, replies.map((m) => replyItem(m, me, members())));
    const newest = replies.reduce((n, m) => Math.max(n, m.seq ?? 0), 0);
    if (newest > readUpTo && document.visibilityState !== 'hidden') {
      readUpTo = newest;
      void thread.markRead(newest).catch(() => undefined);
    }
  };
  const renderRoot = () => {
    const root = thread.root.get() ?? conv.messages.get().find((m) => m.messageId === rootId);
    fill(rootEl, root ? [h('span', { class: 'author' }, root.author), h('p', { class: 'text' }, root.deleted ? 'message deleted' : textWithMentions(root.text, members(), me))] : []);
  };
  const offs = [thread.messages.subscribe(render), thread.root.subscribe(renderRoot)];
  render(thread.messages.get());
  renderRoot();
  thread.load().catch((err: unknown) => (problem.textContent = `Replies unavailable: ${err instanceof Error ? err.message : String(err)}`));
  const el = h(
    'section',
    { class: 'thread', 'aria-label': 'Thread' },
    h('header', {}, h('h3', {}, 'Thread'), h('button', { type: 'button', class: 'close-thread', onclick: close }, 'Close')),
    rootEl,
    list,
    problem,
    h('form', { class: 'reply-composer', onsubmit: (e: Event) => (e.preventDefault(), send()) }, input, h('button', { type: 'submit' }, 'Reply')),
  );
  queueMicrotask(() => input.focus());
  return { el, destroy: () => offs.forEach((off) => off()) };
}

function replyItem(m: MessageView, me: string, members: string[]): HTMLElement {
  return h(
    'li',
    { class: `message reply${m.author === me ? ' mine' : ''}${m.pending ? ' pending' : ''}${m.deleted ? ' deleted' : ''}`, 'data-seq': m.seq ?? '', 'data-id': m.messageId },
    h('span', { class: 'author' }, m.author),
    h('time', {}, timeOf(m.sentAt)),
    h('p', { class: 'text' }, m.deleted ? 'message deleted' : textWithMentions(m.text, members, me)),
    m.pending ? h('span', { class: 'status' }, 'sending…') : null,
  );
}
