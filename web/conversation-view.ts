/**
 * One open conversation: its messages (history pages load as you scroll up), pending ones
 * marked until acked, posts the server refused with Retry, reactions, deleting your own,
 * who is typing and who is online, and the composer; roles and moderation come with the
 * moderation-ui.ts chunk, loaded with the view. Everything shown comes from the
 * client's observables; the view renders, it keeps no copy of the truth.
 */
import type { Conversation, MessageView, OutboxFailure, ParleyClient, Presence } from '../client-lib/index.js';
import { h, fill, timeOf } from './dom.js';
import { textWithMentions } from './mention-text.js';
import { threadView } from './thread-view.js';
import { attachmentList, attachPicker, downloadLinks } from './attachment-view.js';
import type { ModerationUi } from './moderation-ui.js';

const REACTIONS = ['👍', '❤️', '😂'];
const TYPING_EVERY_MS = 2000;
/** Until the moderation chunk is in: no pins, no moderator actions, no Report. */
const NOT_MODERATING = { moderator: false, pinned: new Set<string>(), report: undefined };

export interface ConversationViewOptions {
  title: () => string;
  members: () => string[];
  /** Called with the newest seq while this view is shown, so it can be marked read. */
  seen(seq: number): void;
  /** Replaces the text of a message of this user's. */
  edit(messageId: string, text: string): Promise<void>;
  /** Opens the shared notes editor in `parent`; resolves with how to close it. */
  notes(parent: HTMLElement): Promise<{ destroy(): void }>;
}

export function conversationView(client: ParleyClient, conv: Conversation, options: ConversationViewOptions): { el: HTMLElement; destroy(): void } {
  const me = client.userId;
  // Roles and moderation, once their chunk is in (loaded at the end of this function).
  let mod: ModerationUi | undefined;
  let destroyed = false;
  const headerInfo = h('div', { class: 'header-info' });
  const memberInput = h('input', { id: `add-member-${conv.id}`, name: 'member', maxlength: 200, placeholder: 'Add a member', 'aria-label': 'Add a member' });
  const addMember = h(
    'form',
    {
      class: 'add-member',
      onsubmit: (e: Event) => {
        e.preventDefault();
        const userId = memberInput.value.trim();
        if (!userId) return;
        memberInput.value = '';
        conv.addMember(userId).catch((err: unknown) => console.error('not stored', err));
      },
    },
    memberInput,
    h('button', { type: 'submit' }, 'Add'),
  );
  const log = h('ol', { class: 'messages', role: 'log', 'aria-live': 'polite', 'aria-label': 'Messages', tabindex: 0 });
  const failedList = h('ul', { class: 'failed', 'aria-label': 'Messages not sent' });
  const typing = h('p', { class: 'typing', 'aria-live': 'polite' });
  const input = h('textarea', { id: 'composer', name: 'text', rows: 1, required: true, placeholder: 'Write a message', 'aria-label': 'Message' });
  const failed: OutboxFailure[] = [];
  let lastTyping = 0;
  // The composer doubles as the editor: one text box, so keyboard use stays the same.
  let editing: string | undefined;
  const submit = h('button', { type: 'submit' }, 'Send');
  const cancel = h('button', { type: 'button', class: 'cancel', hidden: true, onclick: () => stopEditing() }, 'Cancel');
  const editNote = h('p', { class: 'edit-note', role: 'status' });
  const startEditing = (m: MessageView) => {
    editing = m.messageId;
    input.value = m.text;
    submit.textContent = 'Save';
    cancel.hidden = false;
    editNote.textContent = 'Editing your message';
    input.focus();
  };
  const stopEditing = (note = '') => {
    editing = undefined;
    input.value = '';
    submit.textContent = 'Send';
    cancel.hidden = true;
    editNote.textContent = note;
  };

  const picker = attachPicker(client, () => conv.id);
  const urlOf = downloadLinks(client, () => conv.id);
  const send = () => {
    const text = input.value.trim();
    if (!text && editing) return;
    const attachments = editing ? [] : picker.take();
    // A post needs text: files sent alone say so.
    if (!text && attachments.length === 0) return;
    if (editing) {
      const id = editing;
      stopEditing('Saving the edit…');
      options.edit(id, text).then(
        () => (editNote.textContent = ''),
        (err: unknown) => (editNote.textContent = `Not edited: ${err instanceof Error ? err.message : String(err)}`),
      );
      return;
    }
    input.value = '';
    conv.send(text || '📎', { attachments }).catch((err: unknown) => console.error('not stored', err));
  };
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      send();
    }
  });
  input.addEventListener('input', () => {
    if (Date.now() - lastTyping < TYPING_EVERY_MS) return;
    lastTyping = Date.now();
    conv.typingNow();
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && editing) stopEditing();
  });
  const composer = h('form', { class: 'composer', onsubmit: (e: Event) => (e.preventDefault(), send()) }, picker.el, input, submit, cancel);

  const notesPanel = h('section', { class: 'notes', id: `notes-${conv.id}`, 'aria-label': 'Shared notes', hidden: true });
  let notes: Promise<{ destroy(): void } | undefined> | undefined;
  const notesButton = h('button', { type: 'button', class: 'notes-toggle', 'aria-expanded': 'false', 'aria-controls': notesPanel.id }, 'Notes');
  notesButton.addEventListener('click', () => {
    const open = notesPanel.hidden;
    notesPanel.hidden = !open;
    notesButton.setAttribute('aria-expanded', String(open));
    if (open && !notes) {
      fill(notesPanel, h('p', { class: 'hint' }, 'Loading the editor…'));
      notes = options.notes(notesPanel).then(
        (n) => (notesPanel.querySelector('.hint')?.remove(), n),
        (err: unknown) => (fill(notesPanel, h('p', { class: 'problem' }, `Notes unavailable: ${err instanceof Error ? err.message : String(err)}`)), (notes = undefined)),
      );
    }
  });

  const renderHeader = () => {
    const people = client.presence.get();
    fill(
      headerInfo,
      h('h2', {}, options.title()),
      h('ul', { class: 'members', 'aria-label': 'Members' }, options.members().map((m) => memberItem(m, m === me ? { online: true, lastSeen: null } : people[m], mod?.memberExtras(m)))),
      mod?.bans(),
    );
  };

  // One thread pane at a time, beside the messages.
  const threadPane = h('div', { class: 'thread-pane', hidden: true });
  let openThread: { destroy(): void } | undefined;
  const closeThread = () => {
    openThread?.destroy();
    openThread = undefined;
    threadPane.hidden = true;
    fill(threadPane);
  };
  const showThread = (m: MessageView) => {
    if (m.seq === undefined) return;
    closeThread();
    const pane = threadView(client, conv, m.messageId, options.members, closeThread);
    openThread = pane;
    fill(threadPane, pane.el);
    threadPane.hidden = false;
  };
  const threadActions = { open: showThread, members: options.members };

  const renderMessages = (messages: MessageView[]) => {
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    // The list is rebuilt on every change: a keyboard user's focus goes back to the same button.
    const focused = document.activeElement instanceof HTMLElement && log.contains(document.activeElement) ? document.activeElement : undefined;
    const focusKey = focused && [focused.closest('.message')?.getAttribute('data-id'), focused.dataset.key];
    fill(log, messages.map((m) => messageItem(m, me, conv, startEditing, threadActions, urlOf, mod?.forMessages() ?? NOT_MODERATING)));
    mod?.renderPinned(messages);
    if (focusKey) {
      const again = Array.from(log.querySelectorAll<HTMLElement>('.message button')).find(
        (b) => b.closest('.message')?.getAttribute('data-id') === focusKey[0] && b.dataset.key === focusKey[1],
      );
      (again ?? log).focus();
    }
    if (atBottom) log.scrollTop = log.scrollHeight;
    const newest = messages.reduce((n, m) => Math.max(n, m.seq ?? 0), 0);
    if (newest > 0) options.seen(newest);
  };

  const renderFailed = () =>
    fill(
      failedList,
      failed.map((f, i) => {
        const text = f.item.command.type === 'PostMessage' ? f.item.command.text : '';
        const drop = () => {
          failed.splice(i, 1);
          renderFailed();
        };
        return h(
          'li',
          {},
          h('span', { class: 'text' }, text),
          h('span', { class: 'why' }, `not sent: ${f.message}`),
          h('button', { type: 'button', onclick: () => (drop(), void conv.send(text)) }, 'Retry'),
          h('button', { type: 'button', onclick: drop }, 'Discard'),
        );
      }),
    );

  // Scrolled to the top: fetch the page before; keep what was on screen where it was.
  let loading = false;
  log.addEventListener('scroll', () => {
    if (log.scrollTop > 40 || loading || !conv.hasOlder) return;
    loading = true;
    const fromBottom = log.scrollHeight - log.scrollTop;
    conv
      .loadOlder()
      .then(() => (log.scrollTop = log.scrollHeight - fromBottom))
      .catch(() => undefined)
      .finally(() => (loading = false));
  });

  const offs = [
    conv.messages.subscribe(renderMessages),
    conv.typing.subscribe((who) => (typing.textContent = who.length === 0 ? '' : `${who.join(', ')} ${who.length === 1 ? 'is' : 'are'} typing…`)),
    client.presence.subscribe(renderHeader),
    // The title and members come from the list, which may arrive after the view (a conversation just created).
    client.conversations.subscribe(renderHeader),
    client.failures.subscribe((f) => {
      const c = f.item.command as { type: string; conversationId?: string };
      if ((client.resolveId(c.conversationId ?? '') ?? c.conversationId) !== conv.id) return;
      if (c.type === 'AddMember') return void (editNote.textContent = `Not added: ${f.message}`);
      // A refused moderation command (or delete) is said; read markers fail quietly.
      if (c.type !== 'PostMessage') return void (c.type.startsWith('Mark') || (editNote.textContent = `Not done (${c.type}): ${f.message}`));
      failed.push(f);
      renderFailed();
    }),
  ];
  renderHeader();
  renderMessages(conv.messages.get());
  const header = h('header', { class: 'conversation-header' }, notesButton, headerInfo, addMember);
  const chat = h('div', { class: 'chat' }, log, failedList, typing, editNote, composer);
  const panes = h('div', { class: 'panes' }, chat, threadPane, notesPanel);
  const el = h('section', { class: 'conversation-view', 'aria-label': 'Conversation' }, header, panes);
  queueMicrotask(() => input.focus());
  import('./moderation-ui.js').then(
    ({ moderationUi }) => {
      if (destroyed) return;
      mod = moderationUi(conv, me, { composer, note: editNote, changed: () => (renderHeader(), renderMessages(conv.messages.get())) });
      chat.prepend(mod.pinned);
      composer.before(mod.reportBar, mod.gate);
      notesButton.after(mod.reportsButton);
      panes.append(mod.reportsPanel);
    },
    (err: unknown) => (editNote.textContent = `Roles unavailable: ${err instanceof Error ? err.message : String(err)}`),
  );
  return {
    el,
    destroy: () => {
      destroyed = true;
      offs.forEach((off) => off());
      mod?.destroy();
      closeThread();
      void notes?.then((n) => n?.destroy());
    },
  };
}

function memberItem(userId: string, presence: Presence | undefined, moderation: (HTMLElement | null)[] = []): HTMLElement {
  const online = presence?.online === true;
  const label = online ? 'online' : presence?.lastSeen ? `last seen ${timeOf(presence.lastSeen)}` : 'offline';
  const dot = h('span', { class: 'dot', 'aria-hidden': 'true' });
  return h('li', { class: online ? 'member online' : 'member', 'data-user': userId, title: label }, dot, userId, h('span', { class: 'sr-only' }, ` (${label})`), moderation);
}

function messageItem(
  m: MessageView,
  me: string,
  conv: Conversation,
  edit: (m: MessageView) => void,
  thread: { open(m: MessageView): void; members(): string[] },
  urlOf: (attachmentId: string) => Promise<string>,
  moderating: { moderator: boolean; pinned: ReadonlySet<string>; report?: (m: MessageView) => void },
): HTMLElement {
  const mine = m.author === me;
  const acked = m.seq !== undefined;
  const pinned = moderating.pinned.has(m.messageId) && !m.deleted;
  const staff = moderating.moderator && acked;
  const reactions = Object.keys(m.reactions).map((emoji) => {
    const users = m.reactions[emoji]!;
    const reacted = users.includes(me);
    return h(
      'button',
      { type: 'button', 'data-key': `emoji:${emoji}`, class: reacted ? 'reaction mine' : 'reaction', 'aria-pressed': String(reacted), title: users.join(', '), onclick: () => void (reacted ? conv.unreact(m.messageId, emoji) : conv.react(m.messageId, emoji)) },
      `${emoji} ${users.length}`,
    );
  });
  const actions = m.deleted
    ? []
    : [
        ...REACTIONS.filter((e) => !Object.hasOwn(m.reactions, e)).map((emoji) =>
          h('button', { type: 'button', 'data-key': `emoji:${emoji}`, class: 'react', 'aria-label': `React ${emoji}`, onclick: () => void conv.react(m.messageId, emoji) }, emoji),
        ),
        // A body document exists once the post is acked (it is named by the server's message id).
        mine && !m.pending ? h('button', { type: 'button', 'data-key': 'edit', class: 'edit', onclick: () => edit(m) }, 'Edit') : null,
        m.seq !== undefined ? h('button', { type: 'button', 'data-key': 'reply', class: 'reply-button', onclick: () => thread.open(m) }, 'Reply') : null,
        mine || staff ? h('button', { type: 'button', 'data-key': 'delete', class: 'delete', onclick: () => void conv.delete(m.messageId) }, 'Delete') : null,
        staff ? h('button', { type: 'button', 'data-key': 'pin', onclick: () => void (pinned ? conv.moderation.unpin(m.messageId) : conv.moderation.pin(m.messageId)) }, pinned ? 'Unpin' : 'Pin') : null,
        !mine && acked && moderating.report ? h('button', { type: 'button', 'data-key': 'report', onclick: () => moderating.report!(m) }, 'Report') : null,
      ];
  return h(
    'li',
    { class: `message${mine ? ' mine' : ''}${m.pending ? ' pending' : ''}${m.deleted ? ' deleted' : ''}${pinned ? ' pinned' : ''}`, 'data-seq': m.seq ?? '', 'data-id': m.messageId },
    h('span', { class: 'author' }, m.author),
    h('time', {}, timeOf(m.sentAt)),
    h('p', { class: 'text' }, m.deleted ? 'message deleted' : textWithMentions(m.text, thread.members(), me)),
    m.deleted ? null : attachmentList(m.attachments, urlOf),
    m.pending ? h('span', { class: 'status' }, m.seq === undefined ? 'sending…' : 'saving…') : null,
    m.thread && m.thread.replyCount > 0
      ? h('button', { type: 'button', 'data-key': 'thread', class: 'thread-summary', onclick: () => thread.open(m) }, `${m.thread.replyCount} ${m.thread.replyCount === 1 ? 'reply' : 'replies'}`)
      : null,
    h('span', { class: 'reactions' }, reactions, actions),
  );
}
