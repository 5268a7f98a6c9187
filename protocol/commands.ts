/**
 * Commands: what a client asks the node to do. The same shapes travel in HTTP bodies
 * (with the conversation id from the path) and in WebSocket `command` frames.
 *
 * Every command carries a client-generated id (`commandId`; for PostMessage the
 * `clientMessageId` doubles as it). Re-sending a command id returns the original result
 * and appends nothing, across restarts. The shapes are defined once, as schemas, in
 * schema/commands.ts; these are their types.
 */
import type { Static } from '@sinclair/typebox';
import type * as S from './schema/index.js';

export type Command = Static<typeof S.Command>;

/** How clients should render a message's text; the server stores it verbatim either way. */
export type MessageFormat = Static<typeof S.MessageFormat>;

export type CommandType = Command['type'];

/** Every command type; the compiler checks the list against the schemas both ways. */
export const COMMAND_TYPES = [
  'CreateConversation',
  'AddMember',
  'RemoveMember',
  'PostMessage',
  'DeleteMessage',
  'AddReaction',
  'RemoveReaction',
  'MarkRead',
  'SetRole',
  'MuteMember',
  'BanMember',
  'UnbanMember',
  'ReportMessage',
  'PinMessage',
  'UnpinMessage',
  'ResolveReport',
  'FollowThread',
  'UnfollowThread',
  'MarkThreadRead',
  'MarkMentionsRead',
  'SetRetention',
  'EraseMessage',
] as const satisfies readonly CommandType[];
const everyType: Exclude<CommandType, (typeof COMMAND_TYPES)[number]> extends never ? true : false = true;
void everyType;

/** What an acknowledged command returns. `seq` is the conversation's version after it. */
export type CommandResult = Static<typeof S.CommandResult>;
