/**
 * WebSocket frames of `/v1/ws`. Every frame is one JSON text message with a `type`.
 * PROTOCOL.md at the repository root explains the exchange.
 */
import { Type } from '@sinclair/typebox';
import { Command, CommandResult } from './commands.js';
import { ErrorCode } from './errors.js';
import { WireEvent } from './events.js';
import { EpochMs, Id, Seq, Strict } from './primitives.js';

/** A conversation to follow, from the last seq the client already has (0 for none). */
export const SubscribeFrom = Strict({ conversationId: Id, afterSeq: Seq });

/** Client frames by type. */
export const ClientFrames = {
  auth: Strict({ type: Type.Literal('auth'), token: Type.String({ maxLength: 4096 }) }),
  subscribe: Strict({ type: Type.Literal('subscribe'), conversations: Type.Array(SubscribeFrom, { maxItems: 1000 }) }),
  unsubscribe: Strict({ type: Type.Literal('unsubscribe'), conversationIds: Type.Array(Id, { maxItems: 1000 }) }),
  command: Strict({ type: Type.Literal('command'), id: Id, command: Command }),
  typing: Strict({ type: Type.Literal('typing'), conversationId: Id }),
  ping: Strict({ type: Type.Literal('ping'), id: Type.Optional(Id) }),
} as const;

export const ServerFrames = {
  ready: Type.Object({ type: Type.Literal('ready'), userId: Type.String(), nodeId: Type.String(), maxTextBytes: Type.Integer() }),
  event: Type.Object({ type: Type.Literal('event'), event: WireEvent }),
  /** A page of catch-up, or the live events of one commit: consecutive events of one conversation, in seq order. */
  events: Type.Object({ type: Type.Literal('events'), conversationId: Type.String(), events: Type.Array(WireEvent) }),
  /** Catch-up for this conversation is complete up to `seq`; live events follow. */
  'caught-up': Type.Object({ type: Type.Literal('caught-up'), conversationId: Type.String(), seq: Seq }),
  /** The client is more than the catch-up limit behind: page history over HTTP from `afterSeq`. */
  behind: Type.Object({ type: Type.Literal('behind'), conversationId: Type.String(), afterSeq: Seq, headSeq: Seq }),
  ack: Type.Object({ type: Type.Literal('ack'), id: Type.String(), result: CommandResult, duplicate: Type.Boolean() }),
  /** `id` names the command frame it answers; `conversationId` the subscription it concerns. */
  error: Type.Object({
    type: Type.Literal('error'),
    id: Type.Optional(Type.String()),
    conversationId: Type.Optional(Type.String()),
    code: ErrorCode,
    message: Type.String(),
  }),
  presence: Type.Object({ type: Type.Literal('presence'), userId: Type.String(), online: Type.Boolean(), lastSeen: Type.Union([EpochMs, Type.Null()]) }),
  typing: Type.Object({ type: Type.Literal('typing'), conversationId: Type.String(), userId: Type.String() }),
  pong: Type.Object({ type: Type.Literal('pong'), id: Type.Optional(Type.String()) }),
} as const;

type Values<T> = Array<T[keyof T]>;
export const ClientFrame = Type.Union(Object.values(ClientFrames) as Values<typeof ClientFrames>);
export const ServerFrame = Type.Union(Object.values(ServerFrames) as Values<typeof ServerFrames>);
