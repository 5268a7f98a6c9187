/**
 * A message's text with `@member` mentions marked: `<mark class="mention">`, and
 * `mention me` for the signed-in user. Text stays text nodes (dom.ts), so a name cannot
 * inject markup. Only members are marked, as only members are mentioned (the node decides).
 */
import { h } from './dom.js';

const TOKEN = /(?<![\p{L}\p{N}_])@([^\s@]+)/gu;
const TRAILING = /[.,;:!?)\]}'"»…]+$/u;

export function textWithMentions(text: string, members: readonly string[], me: string): Array<Node | string> {
  const known = new Set(members);
  const out: Array<Node | string> = [];
  let at = 0;
  for (const match of text.matchAll(TOKEN)) {
    const token = match[1]!;
    const name = known.has(token) ? token : token.replace(TRAILING, '');
    if (!known.has(name)) continue;
    out.push(text.slice(at, match.index));
    out.push(h('mark', { class: name === me ? 'mention me' : 'mention' }, `@${name}`));
    at = match.index! + 1 + name.length;
  }
  out.push(text.slice(at));
  return out;
}
