/**
 * Retention and erasure in the conversation decider (issue 15): who may set the period,
 * who may erase, what the node's sweep expires, and which stored events each of those
 * redacts. The state remembers, per message, where its content is in the log (the post's
 * seq and its edits' seqs) so an erasure can name exactly the events it redacts.
 *
 * - SetRetention: owners and admins (permission `setRetention`).
 * - EraseMessage: the message's author only; an unknown message is `message_not_found`,
 *   one already erased or expired `message_erased`. A deleted message may be erased: a
 *   delete hides it from reads, but its content stays in the log until erased.
 * - MessagesExpired (decideExpiry, the node's sweep): the oldest messages posted before
 *   now minus the period, in seq order, at most MAX_EXPIRED_PER_EVENT per event; an empty
 *   decision when there is nothing new, so a second node sweeping the same moment appends
 *   nothing (the expected version turns a race into a conflict, then into that no-op).
 */
import { ParleyError, type Command, type ConversationEventData } from '../../protocol/index.js';
import { requireAllowed, type ModerationState } from './moderation.js';
import { redactionPatch } from './redaction.js';

/** What of a message's state (conversation.ts, which imports this file) retention reads and keeps. */
interface MessageState {
  author: string;
  deleted: boolean;
  seq: number;
  at: number;
  redacted: boolean;
  editSeqs: number[];
}

/** What of the conversation's state retention reads. */
interface ConversationState {
  exists: boolean;
  createdBy: string;
  members: Set<string>;
  version: number;
  messages: Map<string, MessageState>;
  moderation: ModerationState;
  retention: RetentionState;
}

/** Messages one MessagesExpired redacts at most: a sweep's work (and the append's patches) stays bounded. */
export const MAX_EXPIRED_PER_EVENT = 200;

export interface RetentionState {
  /** Null: kept forever. */
  periodSeconds: number | null;
  /** Messages posted at or before this seq are expired. */
  expiredThrough: number;
}

export function initialRetention(): RetentionState {
  return { periodSeconds: null, expiredThrough: 0 };
}

type WithoutConversation<C> = C extends unknown ? Omit<C, 'conversationId'> : never;
type RetentionCommand = WithoutConversation<Extract<Command, { type: 'SetRetention' | 'EraseMessage' }>>;

/** The retention commands; the actor is a member (checked by the caller). */
export function decideRetention(command: RetentionCommand, state: ConversationState, actor: string): ConversationEventData[] {
  switch (command.type) {
    case 'SetRetention':
      requireAllowed(state, actor, 'setRetention');
      if (state.retention.periodSeconds === command.periodSeconds) return [];
      return [{ type: 'RetentionSet', data: { periodSeconds: command.periodSeconds, setBy: actor } }];
    case 'EraseMessage': {
      const message = state.messages.get(command.messageId);
      if (!message) throw new ParleyError('message_not_found');
      if (message.author !== actor) throw new ParleyError('not_author');
      if (message.redacted) throw new ParleyError('message_erased');
      return [{ type: 'MessageErased', data: { messageId: command.messageId, erasedBy: actor } }];
    }
  }
}

/** What the retention sweep appends to this conversation at `now`: one MessagesExpired, or nothing. */
export function decideExpiry(state: Readonly<ConversationState>, now: number): ConversationEventData[] {
  const period = state.retention.periodSeconds;
  if (!state.exists || period === null) return [];
  const olderThan = now - period * 1000;
  let throughSeq = 0;
  let count = 0;
  for (const m of state.messages.values()) {
    if (m.seq <= state.retention.expiredThrough) continue;
    // In seq order: the first message young enough ends the run (a later one may carry an
    // earlier clock from another node; it waits for the next sweep, never expires early).
    if (m.at >= olderThan || count === MAX_EXPIRED_PER_EVENT) break;
    throughSeq = m.seq;
    count += 1;
  }
  if (throughSeq === 0) return [];
  return [{ type: 'MessagesExpired', data: { throughSeq, olderThan } }];
}

/** What the retention events do to the state; called by `evolve` for every event (version already counted). */
export function evolveRetention(state: ConversationState, event: ConversationEventData, at: number): void {
  switch (event.type) {
    case 'MessagePosted': {
      const m = state.messages.get(event.data.messageId);
      if (m) {
        m.seq = state.version;
        m.at = at;
        if (event.data.redacted) m.redacted = true;
      }
      break;
    }
    case 'MessageBodyEdited': {
      const m = state.messages.get(event.data.messageId);
      if (m && !m.redacted) m.editSeqs.push(state.version);
      break;
    }
    case 'RetentionSet':
      state.retention.periodSeconds = event.data.periodSeconds;
      break;
    case 'MessageErased': {
      const m = state.messages.get(event.data.messageId);
      if (m) redact(m);
      break;
    }
    case 'MessagesExpired':
      for (const m of state.messages.values()) {
        if (m.seq > event.data.throughSeq) break;
        redact(m);
      }
      state.retention.expiredThrough = Math.max(state.retention.expiredThrough, event.data.throughSeq);
      break;
    default:
      break;
  }
}

function redact(m: MessageState): void {
  m.redacted = true;
  m.editSeqs = [];
}

/** A merge patch for one stored event of the stream (see redaction.ts). */
export interface EventPatch {
  seq: number;
  patch: Readonly<Record<string, unknown>>;
}

/**
 * The stored events the decided events redact, with the patch for each: the post and
 * every edit of each erased or newly expired message. Asked of the state before the
 * decided events are applied to it.
 */
export function redactionPatches(state: Readonly<ConversationState>, decided: readonly ConversationEventData[]): EventPatch[] {
  const out: EventPatch[] = [];
  const add = (m: MessageState) => {
    if (m.redacted) return;
    out.push({ seq: m.seq, patch: redactionPatch('MessagePosted')! });
    for (const seq of m.editSeqs) out.push({ seq, patch: redactionPatch('MessageBodyEdited')! });
  };
  for (const e of decided) {
    if (e.type === 'MessageErased') {
      const m = state.messages.get(e.data.messageId);
      if (m) add(m);
    } else if (e.type === 'MessagesExpired') {
      for (const m of state.messages.values()) {
        if (m.seq > e.data.throughSeq) break;
        add(m);
      }
    }
  }
  return out;
}
