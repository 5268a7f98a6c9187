/**
 * WebSocket frames of `/v1/ws`. Every frame is one JSON text message with a `type`.
 * PROTOCOL.md at the repository root explains the exchange. Defined once, as schemas, in
 * schema/frames.ts; these are their types.
 */
import type { Static } from '@sinclair/typebox';
import type * as S from './schema/index.js';

/** A conversation to follow, from the last seq the client already has (0 for none). */
export type SubscribeFrom = Static<typeof S.SubscribeFrom>;

/**
 * The most conversations a `subscribe` frame may name by default (nodes may allow more,
 * never less than this): a client with more open conversations sends several frames.
 */
export const SUBSCRIBE_ENTRIES_PER_FRAME = 100;

export type ClientFrame = Static<typeof S.ClientFrame>;

export type ServerFrame = Static<typeof S.ServerFrame>;

export type ClientFrameType = ClientFrame['type'];
export type ServerFrameType = ServerFrame['type'];
