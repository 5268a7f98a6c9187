/**
 * Bodies of the HTTP read routes, shared by the server's read models and client-lib.
 */
import type { MessageFormat } from './commands.js';

/** One entry of `GET /v1/conversations`. */
export interface ConversationSummary {
  id: string;
  title: string;
  createdBy: string;
  createdAt: string;
  members: string[];
  /** The seq of the conversation's newest event. */
  lastSeq: number;
  lastMessage: { seq: number; messageId: string; author: string; text: string; sentAt: string } | null;
  readSeq: number;
  /** Messages by others after `readSeq` that are not deleted. */
  unread: number;
}

/** One message of `GET /v1/conversations/:id/messages`. */
export interface HistoryMessage {
  seq: number;
  messageId: string;
  author: string;
  text: string;
  format: MessageFormat;
  sentAt: string;
  /** emoji → user ids, in the order they reacted */
  reactions: Record<string, string[]>;
  deleted: boolean;
}
