/**
 * One line of the conversation list, live: the server's summary (fetched on connect and
 * after changes) brought up to date with what the open subscription has delivered since,
 * so unread counts and the last message move the moment an event arrives, not at the
 * next list fetch. Pure, so it is unit-tested without a browser.
 */
import type { ConversationSummary, MessageView } from '../client-lib/index.js';

export interface ListEntry {
  id: string;
  title: string;
  members: string[];
  pending: boolean;
  unread: number;
  last: { author: string; text: string; at: number; pending: boolean } | null;
}

/**
 * `messages`: the conversation's view when it is subscribed (undefined otherwise);
 * `readUpTo`: the highest seq this page marked read (0 if none).
 */
export function listEntry(summary: ConversationSummary, messages: readonly MessageView[] | undefined, readUpTo: number, me: string): ListEntry {
  const seen = Math.max(summary.lastSeq, readUpTo);
  const newer = (messages ?? []).filter((m) => m.seq !== undefined && m.seq > seen && m.author !== me && !m.deleted).length;
  // The server counted up to its lastSeq from its readSeq; a newer local read marker covers all of that.
  const unread = (readUpTo >= summary.lastSeq ? 0 : summary.unread) + newer;
  const newest = [...(messages ?? [])].reverse().find((m) => !m.deleted);
  const last = newest
    ? { author: newest.author, text: newest.text, at: newest.sentAt, pending: newest.pending }
    : summary.lastMessage
      ? { author: summary.lastMessage.author, text: summary.lastMessage.text, at: Date.parse(summary.lastMessage.sentAt), pending: false }
      : null;
  return { id: summary.id, title: summary.title, members: summary.members, pending: summary.pending === true, unread, last };
}
