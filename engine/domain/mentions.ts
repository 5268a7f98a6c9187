/**
 * Mentions: `@userId` tokens in a message's text, resolved against the conversation's
 * members at the moment it is posted. The decider does this, so the event says who was
 * mentioned once and for all: a later join or leave does not change an old message.
 *
 * A token starts at an `@` that does not follow a letter, digit or `_` (so `a@b.com` is
 * no mention) and runs to the next whitespace or `@`. Punctuation after a name (`@bob,`)
 * is tried off too. Names that are not members stay plain text; the author is never in
 * their own mentions.
 */

const TOKEN = /(?<![\p{L}\p{N}_])@([^\s@]+)/gu;
const TRAILING = /[.,;:!?)\]}'"»…]+$/u;

/** The members `text` names, in order of first mention, without the author. */
export function mentionsIn(text: string, members: ReadonlySet<string>, author: string): string[] {
  // Most texts name nobody: no `@`, no match, and no regex iterator to make.
  if (members.size === 0 || !text.includes('@')) return [];
  const found = new Set<string>();
  for (const match of text.matchAll(TOKEN)) {
    const token = match[1]!;
    const name = members.has(token) ? token : token.replace(TRAILING, '');
    if (name !== author && members.has(name)) found.add(name);
    // Bounded by the members: nobody is counted twice.
    if (found.size === members.size) break;
  }
  return [...found];
}
