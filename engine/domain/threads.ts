/**
 * Threads in the decider: a reply names a message; its thread is that message's, or the
 * message's own root when it is itself a reply (threads are one level deep). The event
 * carries the root's author so read models can make them follow the thread without
 * looking the root up.
 */
import { ParleyError } from '../../protocol/index.js';

/** What threads need of the decider's state (conversation.ts's, which imports this file). */
interface MessagesState {
  messages: ReadonlyMap<string, { author: string; deleted: boolean; threadRootId?: string }>;
}

export interface ThreadRoot {
  threadRootId: string;
  threadRootAuthor: string;
}

/** The thread a reply to `messageId` goes to; the message replied to must be live. */
export function threadForReply(state: MessagesState, messageId: string): ThreadRoot {
  const target = state.messages.get(messageId);
  if (!target) throw new ParleyError('message_not_found');
  if (target.deleted) throw new ParleyError('message_deleted');
  const threadRootId = target.threadRootId ?? messageId;
  const root = state.messages.get(threadRootId);
  if (!root) throw new ParleyError('message_not_found');
  return { threadRootId, threadRootAuthor: root.author };
}

/** The root of the thread `messageId` is in (a root names itself); deleted roots keep their thread. */
export function threadRootOf(state: MessagesState, messageId: string): string {
  const message = state.messages.get(messageId);
  if (!message) throw new ParleyError('message_not_found');
  return message.threadRootId ?? messageId;
}
