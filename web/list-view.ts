/** The conversation list and the form that starts a new conversation. */
import { h, fill, timeOf } from './dom.js';
import type { ListEntry } from './list-entry.js';

export interface ListActions {
  open(id: string): void;
  create(title: string, members: string[]): void;
}

export function newConversationForm(actions: ListActions): HTMLElement {
  const title = h('input', { id: 'new-title', name: 'title', required: true, maxlength: 200, placeholder: 'Title' });
  const members = h('input', { id: 'new-members', name: 'members', placeholder: 'bob, carol' });
  return h(
    'form',
    {
      class: 'new-conversation',
      'aria-label': 'New conversation',
      onsubmit: (e: Event) => {
        e.preventDefault();
        const names = members.value.split(',').map((m) => m.trim()).filter(Boolean);
        if (!title.value.trim()) return;
        actions.create(title.value.trim(), [...new Set(names)]);
        title.value = '';
        members.value = '';
      },
    },
    h('label', { for: 'new-title' }, 'New conversation'),
    title,
    h('label', { for: 'new-members' }, 'Members (comma-separated)'),
    members,
    h('button', { type: 'submit' }, 'Create'),
  );
}

export function renderList(el: HTMLElement, entries: ListEntry[], selected: string | undefined, actions: ListActions): void {
  fill(
    el,
    entries.length === 0 ? h('li', { class: 'empty' }, 'No conversations yet') : null,
    entries.map((c) =>
      h(
        'li',
        {},
        h(
          'button',
          {
            class: 'conversation',
            'data-id': c.id,
            'aria-current': c.id === selected ? 'true' : undefined,
            onclick: () => actions.open(c.id),
          },
          h('span', { class: 'title' }, c.title),
          c.pending ? h('span', { class: 'badge pending', title: 'Not on the server yet' }, 'pending') : null,
          c.unread > 0 ? h('span', { class: 'badge unread', 'aria-label': `${c.unread} unread` }, String(c.unread)) : null,
          h('span', { class: 'last' }, c.last ? `${c.last.author}: ${c.last.text}` : 'No messages yet'),
          c.last ? h('time', {}, timeOf(c.last.at)) : null,
        ),
      ),
    ),
  );
}
