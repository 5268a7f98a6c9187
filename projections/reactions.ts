/** Reactions as the message read models keep them (history, threads). */
import type { StoredEvent } from '../engine/store/index.js';

/**
 * Applies a ReactionAdded/ReactionRemoved to reactions stored as JSON `{ emoji: [user ids] }`.
 * Emoji are user input (`constructor`, `__proto__`), so they are handled in a Map, never as
 * keys of a plain object.
 */
export function applyReaction(raw: string, e: StoredEvent): string {
  const { emoji, userId } = e.data as { emoji: string; userId: string };
  const reactions = new Map(Object.entries(JSON.parse(raw) as Record<string, string[]>));
  const users = (reactions.get(emoji) ?? []).filter((u) => u !== userId);
  if (e.type === 'ReactionAdded') users.push(userId);
  if (users.length > 0) reactions.set(emoji, users);
  else reactions.delete(emoji);
  // Object.fromEntries defines own properties, so `__proto__` stays an ordinary key.
  return JSON.stringify(Object.fromEntries(reactions));
}
