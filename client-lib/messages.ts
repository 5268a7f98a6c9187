/**
 * A conversation's messages as the client holds them, and the optimistic view on top.
 *
 * Confirmed messages come from the server (events or history pages) and are ordered by
 * seq. Applying an event or a history page is idempotent, so a replayed event, an event
 * that also arrived in an HTTP page, or a page fetched twice changes nothing.
 *
 * The view adds what the outbox still holds: pending posts at the end (in outbox order),
 * pending deletes and reactions applied to their messages. It is recomputed, never
 * patched, so a command the server refuses simply disappears from it.
 */
import type { AttachmentRef, HistoryMessage, WireEvent } from '../protocol/index.js';

export type { HistoryMessage };
import { localIdFor } from './ids.js';
import type { OutboxItem } from './outbox.js';

export interface Message {
  /** The seq of its MessagePosted event. */
  seq: number;
  messageId: string;
  author: string;
  text: string;
  /** Milliseconds since the epoch. */
  sentAt: number;
  /** emoji → user ids */
  reactions: Record<string, string[]>;
  deleted: boolean;
  /** The command that posted it, when known (from events; history pages do not carry it). */
  commandId?: string;
  /** On a root message: its live replies' count and the newest one (threads.ts holds the replies). */
  thread?: HistoryMessage['thread'];
  /** On a reply from a thread page: its root's id. */
  threadRootId?: string;
  /** Files attached when it was posted (from events); fetch each through `client.attachments.downloadUrl`. */
  attachments?: AttachmentRef[];
  /** Its content was erased by its author or expired (the conversation's retention period): no text, no attachments. */
  redacted?: true;
}

/** A message as the app shows it: `pending` while any of its changes is not acked yet. */
export interface MessageView extends Omit<Message, 'seq'> {
  /** Undefined until the post is acknowledged. */
  seq: number | undefined;
  pending: boolean;
}

export function applyEvent(messages: Message[], e: WireEvent): Message[] {
  switch (e.type) {
    case 'MessagePosted': {
      // A thread reply is not a message of the conversation's list: it counts on its root.
      if (e.data.threadRootId !== undefined) return countReply(messages, e.data.threadRootId, { seq: e.seq, author: e.data.author, sentAt: new Date(e.at).toISOString() });
      const held = messages.find((m) => m.seq === e.seq);
      const m: Message = {
        seq: e.seq,
        messageId: e.data.messageId,
        author: e.data.author,
        text: e.data.text,
        sentAt: e.at,
        reactions: noReactions(),
        deleted: false,
        commandId: e.commandId,
        ...(e.data.attachments && { attachments: e.data.attachments }),
        ...(e.data.redacted && { redacted: true as const }),
      };
      // Already held (from the ack, or a history page): the event's facts win, later changes stay.
      if (held) {
        const gone = held.deleted || held.redacted === true;
        const kept = { ...m, reactions: held.reactions, deleted: held.deleted, text: gone ? '' : m.text };
        return messages.map((x) => (x.seq === e.seq ? (held.redacted ? redacted(kept) : kept) : x));
      }
      return insertBySeq(messages, m);
    }
    case 'MessageDeleted':
      return update(messages, e.data.messageId, (m) => ({ ...m, deleted: true, text: '', reactions: noReactions() }));
    case 'MessageErased':
      return update(messages, e.data.messageId, redacted);
    case 'MessagesExpired': {
      const through = e.data.throughSeq;
      return messages.map((m) => (m.seq <= through ? redacted(m) : m));
    }
    case 'ReactionAdded':
      return update(messages, e.data.messageId, (m) => ({ ...m, reactions: react(m.reactions, e.data.emoji, e.data.userId, true) }));
    case 'ReactionRemoved':
      return update(messages, e.data.messageId, (m) => ({ ...m, reactions: react(m.reactions, e.data.emoji, e.data.userId, false) }));
    default: {
      // Yjs edits of a message body (sync/) carry the merged plain text: show it, no Yjs needed.
      const edit = e as unknown as { type: string; data: { messageId?: unknown; text?: unknown } };
      if (edit.type !== 'MessageBodyEdited' || typeof edit.data.messageId !== 'string' || typeof edit.data.text !== 'string') return messages;
      const text = edit.data.text;
      return update(messages, edit.data.messageId, (m) => (m.deleted || m.redacted ? m : { ...m, text }));
    }
  }
}

/** A message whose content is gone (erased or expired): its place, author and reactions stay. */
function redacted(m: Message): Message {
  const { attachments: _gone, ...rest } = m;
  return { ...rest, text: '', redacted: true };
}

/** Inserts an acknowledged post of this user before its event arrives (the event then confirms it). */
export function applyAck(messages: Message[], post: Omit<Message, 'reactions' | 'deleted'>): Message[] {
  if (messages.some((m) => m.seq === post.seq)) return messages;
  return insertBySeq(messages, { ...post, reactions: noReactions(), deleted: false });
}

/** Upserts a history page: the server's state of each message wins over what was held. */
export function mergeHistory(messages: Message[], page: HistoryMessage[]): Message[] {
  let out = messages;
  for (const h of page) {
    const held = out.find((m) => m.seq === h.seq);
    const m: Message = { ...h, sentAt: Date.parse(h.sentAt), ...(held?.commandId ? { commandId: held.commandId } : {}) };
    out = held ? out.map((x) => (x.seq === h.seq ? m : x)) : insertBySeq(out, m);
  }
  return out;
}

/**
 * The optimistic view: confirmed messages plus what `pending` (this conversation's outbox
 * items) will do. Pending replies show in a thread's view (`replies`), not the conversation's.
 */
export function viewOf(
  messages: Message[],
  pending: readonly OutboxItem[],
  userId: string,
  resolve: (id: string) => string | undefined,
  options: { replies?: boolean } = {},
): MessageView[] {
  const byId = new Map<string, MessageView>();
  const view: MessageView[] = messages.map((m) => {
    const v = { ...m, pending: false };
    byId.set(m.messageId, v);
    return v;
  });
  const posted = new Set(messages.map((m) => m.commandId).filter(Boolean));
  for (const item of pending) {
    const c = item.command;
    if (c.type === 'PostMessage') {
      if ((c.threadRootId !== undefined) !== (options.replies === true)) continue;
      const local = localIdFor(item.id);
      const known = resolve(local);
      if (posted.has(item.id) || (known && byId.has(known))) continue;
      const v: MessageView = { seq: undefined, messageId: local, author: userId, text: c.text, sentAt: item.createdAt, reactions: noReactions(), deleted: false, commandId: item.id, pending: true };
      byId.set(local, v);
      view.push(v);
      continue;
    }
    if (c.type !== 'DeleteMessage' && c.type !== 'AddReaction' && c.type !== 'RemoveReaction') continue;
    const target = byId.get(resolve(c.messageId) ?? c.messageId) ?? byId.get(c.messageId);
    if (!target) continue;
    target.pending = true;
    if (c.type === 'DeleteMessage') {
      target.deleted = true;
      target.text = '';
    } else target.reactions = react(target.reactions, c.emoji, userId, c.type === 'AddReaction');
  }
  return view;
}

/** A live reply arrived: its root (when held) counts it and shows it as the last reply. */
function countReply(messages: Message[], rootId: string, last: { seq: number; author: string; sentAt: string }): Message[] {
  return update(messages, rootId, (m) => {
    if ((m.thread?.lastReply?.seq ?? 0) >= last.seq) return m;
    return { ...m, thread: { replyCount: (m.thread?.replyCount ?? 0) + 1, lastReply: last } };
  });
}

function insertBySeq(messages: Message[], m: Message): Message[] {
  const out = [...messages];
  let i = out.length;
  while (i > 0 && out[i - 1]!.seq > m.seq) i -= 1;
  out.splice(i, 0, m);
  return out;
}

function update(messages: Message[], messageId: string, change: (m: Message) => Message): Message[] {
  return messages.map((m) => (m.messageId === messageId ? change(m) : m));
}

/**
 * Emoji are user input (`constructor`, `__proto__`): reactions are read with `Object.hasOwn`
 * and every changed set is a new null-prototype object, which serializes like any other.
 */
function react(reactions: Record<string, string[]>, emoji: string, userId: string, add: boolean): Record<string, string[]> {
  const held = Object.hasOwn(reactions, emoji) ? reactions[emoji]! : [];
  if (add && held.includes(userId)) return reactions;
  const users = held.filter((u) => u !== userId);
  if (add) users.push(userId);
  const out = noReactions();
  for (const [k, v] of Object.entries(reactions)) {
    if (k !== emoji) out[k] = v;
    else if (users.length > 0) out[k] = users;
  }
  if (users.length > 0 && !Object.hasOwn(out, emoji)) out[emoji] = users;
  return out;
}

/** An empty reaction set with no prototype, so no emoji can name an inherited property. */
function noReactions(): Record<string, string[]> {
  return Object.create(null) as Record<string, string[]>;
}
