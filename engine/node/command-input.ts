/**
 * The edge where user text is normalized before anything is decided or keyed: both doors
 * (HTTP and WebSocket) meet in the command handler, so lone surrogates become U+FFFD here
 * (see domain/well-formed.ts) and ids that could not be stored as sent are refused.
 */
import { ParleyError, type Command } from '../../protocol/index.js';
import { isWellFormed, toWellFormed } from '../domain/index.js';
import { normalizedModeration } from './moderation-commands.js';

// C0 controls and DEL: a command id travels in log lines and (JetStream) a message header.
const CONTROL = /[\u0000-\u001f\u007f]/;

export function checkCommandId(commandId: string): void {
  if (typeof commandId !== 'string' || commandId.length === 0 || commandId.length > 200) {
    throw new ParleyError('invalid_request', 'A command id is a string of 1 to 200 characters');
  }
  if (!isWellFormed(commandId) || CONTROL.test(commandId)) {
    throw new ParleyError('invalid_request', 'A command id may not contain control characters or lone surrogates');
  }
}

/** Refuses an id that is not well-formed text: normalizing it could make two ids one. */
function id(value: string, name: string): string {
  if (!isWellFormed(value)) throw new ParleyError('invalid_request', `${name} contains a lone surrogate`);
  return value;
}

/** The command with its texts well-formed and its ids checked; built field by field, so nothing else rides along. */
export function normalized(command: Command): Command {
  switch (command.type) {
    case 'CreateConversation':
      return { type: command.type, title: toWellFormed(command.title), members: command.members.map((m) => id(m, 'members')) };
    case 'AddMember':
    case 'RemoveMember':
      return { type: command.type, conversationId: id(command.conversationId, 'conversationId'), userId: id(command.userId, 'userId') };
    case 'PostMessage':
      return {
        type: command.type,
        conversationId: id(command.conversationId, 'conversationId'),
        text: toWellFormed(command.text),
        ...(command.format !== undefined && { format: command.format }),
        ...(command.threadRootId !== undefined && { threadRootId: id(command.threadRootId, 'threadRootId') }),
        ...(command.attachments !== undefined && { attachments: command.attachments.map((a) => id(a, 'attachments')) }),
      };
    case 'DeleteMessage':
      return { type: command.type, conversationId: id(command.conversationId, 'conversationId'), messageId: id(command.messageId, 'messageId') };
    case 'AddReaction':
    case 'RemoveReaction':
      return {
        type: command.type,
        conversationId: id(command.conversationId, 'conversationId'),
        messageId: id(command.messageId, 'messageId'),
        emoji: toWellFormed(command.emoji),
      };
    case 'MarkRead':
      return { type: command.type, conversationId: id(command.conversationId, 'conversationId'), seq: command.seq };
    case 'SetRole':
    case 'MuteMember':
    case 'BanMember':
    case 'UnbanMember':
    case 'ReportMessage':
    case 'PinMessage':
    case 'UnpinMessage':
    case 'ResolveReport':
      return normalizedModeration(command, id);
    case 'FollowThread':
    case 'UnfollowThread':
      return { type: command.type, conversationId: id(command.conversationId, 'conversationId'), threadRootId: id(command.threadRootId, 'threadRootId') };
    case 'MarkThreadRead':
      return {
        type: command.type,
        conversationId: id(command.conversationId, 'conversationId'),
        threadRootId: id(command.threadRootId, 'threadRootId'),
        seq: command.seq,
      };
    case 'MarkMentionsRead':
      return { type: command.type, conversationId: id(command.conversationId, 'conversationId'), seq: command.seq };
    case 'SetRetention':
      return { type: command.type, conversationId: id(command.conversationId, 'conversationId'), periodSeconds: command.periodSeconds };
    case 'EraseMessage':
      return { type: command.type, conversationId: id(command.conversationId, 'conversationId'), messageId: id(command.messageId, 'messageId') };
    default: {
      const never: never = command;
      throw new ParleyError('unknown_command', `Unknown command ${(never as { type: string }).type}`);
    }
  }
}
