/**
 * WebSocket frames of `/v1/ws`. Every frame is one JSON text message with a `type`.
 * PROTOCOL.md at the repository root explains the exchange; this file is its types.
 */
import type { Command, CommandResult } from './commands.js';
import type { ErrorCode } from './errors.js';
import type { WireEvent } from './events.js';

/** A conversation to follow, from the last seq the client already has (0 for none). */
export interface SubscribeFrom {
  conversationId: string;
  afterSeq: number;
}

/**
 * The most conversations a `subscribe` frame may name by default (nodes may allow more,
 * never less than this): a client with more open conversations sends several frames.
 */
export const SUBSCRIBE_ENTRIES_PER_FRAME = 100;

export type ClientFrame =
  | { type: 'auth'; token: string }
  | { type: 'subscribe'; conversations: SubscribeFrom[] }
  | { type: 'unsubscribe'; conversationIds: string[] }
  | { type: 'command'; id: string; command: Command }
  | { type: 'typing'; conversationId: string }
  | { type: 'ping'; id?: string };

export type ServerFrame =
  | { type: 'ready'; userId: string; nodeId: string; maxTextBytes: number }
  | { type: 'event'; event: WireEvent }
  /** A page of catch-up: consecutive events of one conversation, in seq order. */
  | { type: 'events'; conversationId: string; events: WireEvent[] }
  /** Catch-up for this conversation is complete up to `seq`; live events follow. */
  | { type: 'caught-up'; conversationId: string; seq: number }
  /** The client is more than the catch-up limit behind: page history over HTTP from `afterSeq`. */
  | { type: 'behind'; conversationId: string; afterSeq: number; headSeq: number }
  | { type: 'ack'; id: string; result: CommandResult; duplicate: boolean }
  /** `id` names the command frame it answers; `conversationId` the subscription it concerns. */
  | { type: 'error'; id?: string; conversationId?: string; code: ErrorCode; message: string }
  | { type: 'presence'; userId: string; online: boolean; lastSeen: number | null }
  | { type: 'typing'; conversationId: string; userId: string }
  | { type: 'pong'; id?: string };

export type ClientFrameType = ClientFrame['type'];
export type ServerFrameType = ServerFrame['type'];
