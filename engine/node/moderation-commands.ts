/** The moderation commands' ids and texts checked at the edge, as command-handler.ts does for the others. */
import { toWellFormed, type Command } from '../../protocol/index.js';

type ModerationCommand = Extract<
  Command,
  { type: 'SetRole' | 'MuteMember' | 'BanMember' | 'UnbanMember' | 'ReportMessage' | 'PinMessage' | 'UnpinMessage' | 'ResolveReport' }
>;

/** Built field by field, so nothing else rides along; `id` refuses ids that are not well-formed. */
export function normalizedModeration(command: ModerationCommand, id: (value: string, name: string) => string): Command {
  const conversationId = id(command.conversationId, 'conversationId');
  switch (command.type) {
    case 'SetRole':
      return { type: command.type, conversationId, userId: id(command.userId, 'userId'), role: command.role };
    case 'MuteMember':
      return { type: command.type, conversationId, userId: id(command.userId, 'userId'), until: command.until };
    case 'BanMember':
    case 'UnbanMember':
      return { type: command.type, conversationId, userId: id(command.userId, 'userId') };
    case 'ReportMessage':
      return { type: command.type, conversationId, messageId: id(command.messageId, 'messageId'), reason: toWellFormed(command.reason) };
    case 'PinMessage':
    case 'UnpinMessage':
      return { type: command.type, conversationId, messageId: id(command.messageId, 'messageId') };
    case 'ResolveReport':
      return { type: command.type, conversationId, messageId: id(command.messageId, 'messageId'), outcome: command.outcome };
  }
}
