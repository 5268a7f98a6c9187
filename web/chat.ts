/**
 * The signed-in shell: connection state, the conversation list (live), the open
 * conversation. Every conversation in the list is opened in the client, so its
 * subscription keeps the list's unread counts and last messages current; the open one is
 * marked read as it is seen. A conversation this user is removed from (left, removed,
 * banned: their own MemberLeft) leaves the list and the page at once, not at the next
 * refresh. The browser's online/offline events switch the client, so
 * going offline is shown at once, not after a socket timeout.
 */
import { createClient, IndexedDbStorage, type ConnectionState, type Conversation, type ParleyClient } from '../client-lib/index.js';
import { conversationView } from './conversation-view.js';
import { LazyDocuments } from './documents.js';
import { h, fill } from './dom.js';
import { listEntry } from './list-entry.js';
import { newConversationForm, renderList } from './list-view.js';
import { mentionsBadge } from './mentions-badge.js';
import { searchView } from './search-view.js';
import type { Session } from './session.js';

/** Conversations held open for a live list; past it the rest show the fetched summary. */
const MAX_LIVE = 200;
/** Being added to a conversation sends no frame yet (see the report): the list is refetched this often. */
const LIST_REFRESH_MS = 5000;

export async function startChat(root: HTMLElement, session: Session, token: () => Promise<string>, signOut: () => void): Promise<ParleyClient> {
  const me = session.userId;
  const storage = await IndexedDbStorage.open(`parley-${me}`);
  const documents = new LazyDocuments();
  const client = await createClient({ url: location.origin, userId: me, token, storage, backoff: { initialMs: 250, maxMs: 5000 }, extensions: [documents] });
  const open = new Map<string, Conversation>();
  const readUpTo = new Map<string, number>();
  /** Conversations this user was removed from, hidden until the server's list agrees (or they are added again). */
  const gone = new Set<string>();
  let selected: string | undefined = new URLSearchParams(location.hash.slice(1)).get('c') ?? undefined;
  let view: { el: HTMLElement; destroy(): void; conv: Conversation; seen(): void } | undefined;

  const status = h('p', { class: 'connection', role: 'status' });
  const mentions = mentionsBadge(client);
  const outboxNote = h('span', { class: 'outbox' });
  const list = h('ul', { class: 'conversations', 'aria-label': 'Conversations' });
  const main = h('main', { class: 'main' }, h('p', { class: 'placeholder' }, 'Pick a conversation, or start one.'));
  const actions = {
    open: (id: string) => void select(id).catch(cannotOpen),
    create: (title: string, members: string[]) => void client.createConversation(title, members).then(select).catch(cannotOpen),
  };
  fill(
    root,
    h('header', { class: 'top' }, h('h1', {}, 'Parley'), status, outboxNote, mentions.el, h('span', { class: 'me' }, me), h('button', { type: 'button', class: 'sign-out', onclick: signOut }, 'Sign out')),
    h('aside', { class: 'side' }, searchView(client, (id) => client.conversations.get().find((c) => c.id === id)?.title ?? id, actions.open), newConversationForm(actions), list),
    main,
  );

  const key = (id: string) => client.resolveId(id) ?? id;
  // Storage refusing a write (quota) or a conversation that cannot load: said on the page, not thrown away.
  const cannotOpen = (err: unknown) => fill(main, h('p', { class: 'problem', role: 'alert' }, `Could not open it: ${err instanceof Error ? err.message : String(err)}`));
  const renderStatus = (s: ConnectionState) => {
    status.dataset.status = s.status;
    status.textContent = s.status === 'online' ? 'Online' : s.status === 'connecting' ? 'Connecting…' : s.status === 'stopped' ? `Signed out by the server (${s.close?.reason || s.close?.code || 'stopped'})` : 'Offline';
  };
  const renderOutbox = () => {
    const n = client.outbox.get().length;
    outboxNote.textContent = n === 0 ? '' : `${n} waiting to send`;
  };

  let scheduled = false;
  const renderListSoon = () => {
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(() => {
      scheduled = false;
      const entries = client.conversations.get().filter((s) => !gone.has(s.id)).map((s) => listEntry(s, open.get(s.id)?.messages.get(), readUpTo.get(s.id) ?? 0, me));
      renderList(list, entries, selected && key(selected), actions);
    });
  };

  const hold = (id: string) => {
    if (open.has(id) || open.size >= MAX_LIVE) return;
    const opening = client.conversation(id).then((conv) => {
      open.set(id, conv);
      conv.messages.subscribe(renderListSoon);
      conv.moderation.changes.subscribe((e) => {
        const data = e.data as { userId?: string };
        if (data.userId !== me) return;
        if (e.type === 'MemberJoined') return void (gone.delete(conv.id), renderListSoon());
        if (e.type === 'MemberLeft') removed(conv);
      });
      renderListSoon();
      return conv;
    });
    opening.catch(() => undefined);
  };

  function removed(conv: Conversation): void {
    gone.add(conv.id);
    renderListSoon();
    if (view?.conv === conv) {
      view.destroy();
      view = undefined;
      selected = undefined;
      history.replaceState(null, '', '#');
      const title = client.conversations.get().find((c) => c.id === conv.id)?.title ?? 'this conversation';
      fill(main, h('p', { class: 'placeholder removed', role: 'status' }, `You are no longer a member of “${title}”.`));
    }
  }

  async function select(id: string): Promise<void> {
    selected = id;
    history.replaceState(null, '', `#c=${encodeURIComponent(key(id))}`);
    const conv = await client.conversation(id);
    if (selected !== id) return;
    view?.destroy();
    const summary = () => client.conversations.get().find((c) => c.id === conv.id);
    const seen = (seq: number) => {
      if (!selected || key(selected) !== conv.id || document.visibilityState === 'hidden' || (readUpTo.get(conv.id) ?? 0) >= seq) return;
      readUpTo.set(conv.id, seq);
      if ((summary()?.readSeq ?? 0) < seq) void conv.markRead(seq).catch(() => undefined);
      renderListSoon();
    };
    const v = conversationView(client, conv, {
      title: () => summary()?.title ?? '',
      members: () => summary()?.members ?? [me],
      seen,
      edit: (messageId, text) => documents.edit(conv.id, messageId, text),
      notes: async (parent) => {
        const notes = await documents.notes(parent, client.resolveId(conv.id) ?? conv.id, me);
        const off = () => notes.online(false);
        const on = () => notes.online(true);
        // Its socket is its own: it follows the browser's network like the client's does.
        addEventListener('offline', off);
        addEventListener('online', on);
        if (!navigator.onLine) off();
        return { destroy: () => (removeEventListener('offline', off), removeEventListener('online', on), notes.destroy()) };
      },
    });
    view = { ...v, conv, seen: () => seen(conv.lastSeq) };
    fill(main, v.el);
    renderListSoon();
  }

  client.connection.subscribe(renderStatus);
  client.connection.subscribe((s) => s.status === 'online' && mentions.refresh());
  client.outbox.subscribe(renderOutbox);
  client.conversations.subscribe((entries) => {
    // The server's list caught up with a removal: nothing left to hide.
    for (const id of gone) if (!entries.some((s) => s.id === id)) gone.delete(id);
    for (const s of entries) if (!s.pending) hold(s.id);
    renderListSoon();
  });
  renderStatus(client.connection.get());
  renderOutbox();
  for (const s of client.conversations.get()) if (!s.pending) hold(s.id);
  renderListSoon();
  if (selected) void select(selected).catch(cannotOpen);

  // Messages that arrived while the tab was hidden count as read once it is looked at.
  document.addEventListener('visibilitychange', () => view?.seen());
  addEventListener('offline', () => client.goOffline());
  // A fresh start rather than waiting out a backoff timer that began while offline.
  addEventListener('online', () => (client.goOffline(), client.goOnline()));
  if (!navigator.onLine) client.goOffline();
  const refresh = setInterval(() => {
    if (client.connection.get().status !== 'online' || document.visibilityState === 'hidden') return;
    void client.refreshConversations().catch(() => undefined);
    mentions.refresh();
  }, LIST_REFRESH_MS);
  addEventListener('pagehide', () => clearInterval(refresh));
  return client;
}
