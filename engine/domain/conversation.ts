/**
 * The conversation decider: pure functions, no I/O.
 *
 *   decide(command, state, context) → events   (or throws a coded ParleyError)
 *   evolve(state, event)            → state
 *
 * The state holds only what decisions need: members, the creator, and per message its
 * author, whether it was deleted and which reactions it carries, and where its content
 * is in the log and whether that was redacted (retention.ts).
 */
import { ParleyError, type Command, type ConversationEventData } from '../../protocol/index.js';
import {
  decideModeration,
  evolveModeration,
  initialModeration,
  can,
  requireAllowed,
  requireMayAdd,
  requireMayPost,
  requireMayRemove,
  type ModerationState,
} from './moderation.js';
import { mentionsIn } from './mentions.js';
import { threadForReply, threadRootOf } from './threads.js';
import { attachmentsToPost, evolveAttachments, type UploadState } from './attachments.js';
import { decideRetention, evolveRetention, initialRetention, type RetentionState } from './retention.js';

export interface MessageState {
  author: string;
  deleted: boolean;
  /** `${userId}\u0000${emoji}` */
  reactions: Set<string>;
  /** Set on thread replies: the root message's id. */
  threadRootId?: string;
  /** The post's seq and time (ms since the epoch), for retention. */
  seq: number;
  at: number;
  /** The content was erased or expired: nothing more is written to its body. */
  redacted: boolean;
  /** Seqs of the body's edits (MessageBodyEdited) while not redacted: what an erasure rewrites. */
  editSeqs: number[];
}

export interface ConversationState {
  exists: boolean;
  createdBy: string;
  members: Set<string>;
  messages: Map<string, MessageState>;
  version: number;
  /** Roles, mutes, bans, pins and reports (moderation.ts). */
  moderation: ModerationState;
  /** Uploads by attachment id (attachments.ts); absent until the first upload. */
  attachments?: Map<string, UploadState>;
  /** The retention period and how far messages have expired (retention.ts). */
  retention: RetentionState;
}

export function initialState(): ConversationState {
  return {
    exists: false,
    createdBy: '',
    members: new Set(),
    messages: new Map(),
    version: 0,
    moderation: initialModeration(),
    retention: initialRetention(),
  };
}

/** A command addressed to an existing (or, for Create, a new) conversation. */
/** A client's command as the decider sees it: the protocol's, without the conversation id (the stream says it). */
export type ConversationCommand = Command extends infer C ? (C extends { conversationId: string } ? Omit<C, 'conversationId'> : C) : never;

/** The decider's view of a command. */
export function toConversationCommand(command: Command): ConversationCommand {
  if (!('conversationId' in command)) return command;
  const { conversationId: _inTheStream, ...rest } = command;
  return rest as ConversationCommand;
}

export interface DecideContext {
  actor: string;
  /** A fresh id for anything the command creates (a message id). */
  newId: () => string;
  /** The command's time (ms since the epoch): mutes end by it; the decider never reads a clock. */
  now: number;
}

export function decide(
  command: ConversationCommand,
  state: ConversationState,
  ctx: DecideContext,
): ConversationEventData[] {
  const { actor } = ctx;
  if (command.type === 'CreateConversation') {
    if (state.exists) throw new ParleyError('forbidden');
    const members = [...new Set([actor, ...command.members])];
    return [{ type: 'ConversationCreated', data: { title: command.title, createdBy: actor, members } }];
  }
  // Not existing and not being a member look the same from outside.
  if (!state.exists || !state.members.has(actor)) throw new ParleyError('forbidden');

  switch (command.type) {
    case 'AddMember':
      requireMayAdd(state, actor, command.userId);
      if (state.members.has(command.userId)) throw new ParleyError('already_member');
      return [{ type: 'MemberJoined', data: { userId: command.userId, addedBy: actor } }];
    case 'RemoveMember':
      // Anyone may leave (but the last owner); removing others goes by the permission table.
      requireMayRemove(state, actor, command.userId);
      return [{ type: 'MemberLeft', data: { userId: command.userId, removedBy: actor } }];
    case 'PostMessage': {
      requireMayPost(state, ctx);
      const thread = command.threadRootId === undefined ? undefined : threadForReply(state, command.threadRootId);
      const mentions = mentionsIn(command.text, state.members, actor);
      const attachments = attachmentsToPost(state, actor, command.attachments);
      const data = { messageId: ctx.newId(), author: actor, text: command.text, format: command.format ?? 'plain' } as const;
      return [{ type: 'MessagePosted', data: { ...data, ...thread, ...(mentions.length > 0 && { mentions }), ...(attachments && { attachments }) } }];
    }
    case 'DeleteMessage': {
      const message = liveMessage(state, command.messageId);
      if (message.author !== actor && !can(state, actor, 'deleteOthers')) throw new ParleyError('not_author');
      return [{ type: 'MessageDeleted', data: { messageId: command.messageId, deletedBy: actor } }];
    }
    case 'AddReaction': {
      requireAllowed(state, actor, 'react');
      const message = liveMessage(state, command.messageId);
      if (message.reactions.has(reactionKey(actor, command.emoji))) return [];
      return [{ type: 'ReactionAdded', data: { messageId: command.messageId, userId: actor, emoji: command.emoji } }];
    }
    case 'RemoveReaction': {
      requireAllowed(state, actor, 'react');
      const message = liveMessage(state, command.messageId);
      if (!message.reactions.has(reactionKey(actor, command.emoji))) return [];
      return [{ type: 'ReactionRemoved', data: { messageId: command.messageId, userId: actor, emoji: command.emoji } }];
    }
    case 'MarkRead':
      if (command.seq > state.version) throw new ParleyError('seq_out_of_range');
      return [{ type: 'ReadMarkerSet', data: { userId: actor, seq: command.seq } }];
    case 'SetRole':
    case 'MuteMember':
    case 'BanMember':
    case 'UnbanMember':
    case 'ReportMessage':
    case 'PinMessage':
    case 'UnpinMessage':
    case 'ResolveReport':
      return decideModeration(command, state, ctx);
    case 'FollowThread':
      return [{ type: 'ThreadFollowed', data: { threadRootId: threadRootOf(state, command.threadRootId), userId: actor } }];
    case 'UnfollowThread':
      return [{ type: 'ThreadUnfollowed', data: { threadRootId: threadRootOf(state, command.threadRootId), userId: actor } }];
    case 'MarkThreadRead': {
      const threadRootId = threadRootOf(state, command.threadRootId);
      if (command.seq > state.version) throw new ParleyError('seq_out_of_range');
      return [{ type: 'ThreadReadMarkerSet', data: { threadRootId, userId: actor, seq: command.seq } }];
    }
    case 'MarkMentionsRead':
      if (command.seq > state.version) throw new ParleyError('seq_out_of_range');
      return [{ type: 'MentionsReadMarkerSet', data: { userId: actor, seq: command.seq } }];
    case 'SetRetention':
    case 'EraseMessage':
      return decideRetention(command, state, actor);
    default:
      return assertNever(command);
  }
}

/**
 * Applies one event. `at` is when it was appended (a stored event's metadata.at; the
 * command's time for one just decided): retention expires messages by it.
 */
export function evolve(state: ConversationState, event: ConversationEventData, at = atOf(event)): ConversationState {
  state.version += 1;
  evolveAttachments(state, event);
  switch (event.type) {
    case 'ConversationCreated':
      state.exists = true;
      state.createdBy = event.data.createdBy;
      for (const m of event.data.members) state.members.add(m);
      break;
    case 'MemberJoined':
      state.members.add(event.data.userId);
      break;
    case 'MemberLeft':
      state.members.delete(event.data.userId);
      break;
    case 'MessagePosted':
      state.messages.set(event.data.messageId, {
        author: event.data.author,
        deleted: false,
        reactions: new Set(),
        ...(event.data.threadRootId !== undefined && { threadRootId: event.data.threadRootId }),
        seq: state.version,
        at,
        redacted: false,
        editSeqs: [],
      });
      break;
    case 'MessageDeleted': {
      const m = state.messages.get(event.data.messageId);
      if (m) {
        m.deleted = true;
        m.reactions.clear();
      }
      break;
    }
    case 'ReactionAdded':
      state.messages.get(event.data.messageId)?.reactions.add(reactionKey(event.data.userId, event.data.emoji));
      break;
    case 'ReactionRemoved':
      state.messages.get(event.data.messageId)?.reactions.delete(reactionKey(event.data.userId, event.data.emoji));
      break;
    case 'ReadMarkerSet':
      break;
    default:
      // Event types added by later features (e.g. document updates) do not affect decisions.
      break;
  }
  evolveModeration(state, event);
  evolveRetention(state, event, at);
  return state;
}

/** A stored event's append time; 0 for a bare `{ type, data }` (callers that decide pass their time). */
function atOf(event: ConversationEventData): number {
  const at = (event as { metadata?: { at?: unknown } }).metadata?.at;
  return typeof at === 'number' ? at : 0;
}

function liveMessage(state: ConversationState, messageId: string): MessageState {
  const message = state.messages.get(messageId);
  if (!message) throw new ParleyError('message_not_found');
  if (message.deleted) throw new ParleyError('message_deleted');
  return message;
}

function reactionKey(userId: string, emoji: string): string {
  return `${userId}\u0000${emoji}`;
}

function assertNever(x: never): never {
  throw new ParleyError('unknown_command', `Unknown command ${(x as { type: string }).type}`);
}
