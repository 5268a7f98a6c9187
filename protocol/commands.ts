/**
 * Commands: what a client asks the node to do. The same shapes travel in HTTP bodies
 * (with the conversation id from the path) and in WebSocket `command` frames.
 *
 * Every command carries a client-generated id (`commandId`; for PostMessage the
 * `clientMessageId` doubles as it). Re-sending a command id returns the original result
 * and appends nothing, across restarts.
 */
export type Command =
  | { type: 'CreateConversation'; title: string; members: string[] }
  | { type: 'AddMember'; conversationId: string; userId: string }
  | { type: 'RemoveMember'; conversationId: string; userId: string }
  | { type: 'PostMessage'; conversationId: string; text: string; format?: MessageFormat }
  | { type: 'DeleteMessage'; conversationId: string; messageId: string }
  | { type: 'AddReaction'; conversationId: string; messageId: string; emoji: string }
  | { type: 'RemoveReaction'; conversationId: string; messageId: string; emoji: string }
  | { type: 'MarkRead'; conversationId: string; seq: number };

/** How clients should render a message's text; the server stores it verbatim either way. */
export type MessageFormat = 'plain' | 'markdown';

export type CommandType = Command['type'];

export const COMMAND_TYPES: readonly CommandType[] = [
  'CreateConversation',
  'AddMember',
  'RemoveMember',
  'PostMessage',
  'DeleteMessage',
  'AddReaction',
  'RemoveReaction',
  'MarkRead',
];

/** What an acknowledged command returns. `seq` is the conversation's version after it. */
export interface CommandResult {
  conversationId: string;
  seq: number;
  messageId?: string;
}
