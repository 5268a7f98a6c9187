/**
 * Search over the user's conversations (needs the network). Hits show the server's
 * snippet as text; picking one opens its conversation.
 */
import type { ParleyClient, SearchHit } from '../client-lib/index.js';
import { h, fill, timeOf } from './dom.js';

export function searchView(client: ParleyClient, titleOf: (conversationId: string) => string, open: (conversationId: string) => void): HTMLElement {
  const input = h('input', { id: 'search', type: 'search', name: 'q', maxlength: 500, placeholder: 'Search messages' });
  const results = h('ul', { class: 'search-results', 'aria-label': 'Search results' });
  const show = (hits: SearchHit[]) =>
    fill(
      results,
      hits.length === 0 ? h('li', { class: 'empty' }, 'Nothing found') : null,
      hits.map((hit) =>
        h(
          'li',
          {},
          h(
            'button',
            { type: 'button', class: 'hit', onclick: () => (fill(results), open(hit.conversationId)) },
            h('span', { class: 'title' }, titleOf(hit.conversationId)),
            h('span', { class: 'snippet' }, `${hit.author}: ${hit.snippet}`),
            h('time', {}, timeOf(Date.parse(hit.sentAt))),
          ),
        ),
      ),
    );
  let asked = 0;
  const form = h(
    'form',
    {
      role: 'search',
      class: 'search',
      onsubmit: (e: Event) => {
        e.preventDefault();
        const q = input.value.trim();
        if (!q) return fill(results);
        const mine = ++asked;
        client.search(q, { limit: 20 }).then(
          (hits) => mine === asked && show(hits),
          (err: unknown) => mine === asked && fill(results, h('li', { class: 'problem' }, `Search needs the network (${err instanceof Error ? err.message : String(err)})`)),
        );
      },
    },
    h('label', { for: 'search' }, 'Search'),
    input,
  );
  return h('div', {}, form, results);
}
