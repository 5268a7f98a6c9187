/**
 * What a WebSocket session needs from the gateway that accepted it: the node's parts it
 * uses and the per-user bookkeeping the gateway keeps. Declared apart from both, so the
 * gateway makes sessions and fan-out delivers to them without either importing the other.
 */
import type Database from 'better-sqlite3';
import type { FastifyBaseLogger } from 'fastify';
import type { EventStore } from '../store/index.js';
import type { CommandHandler } from './command-handler.js';
import type { NodeConfig } from './config/index.js';
import type { FanOut } from './fan-out.js';
import type { Metrics } from './metrics.js';
import type { TokenBucket } from './rate-limit.js';
import type { SendBufferLimits } from './send-buffer.js';

export interface SessionHost {
  readonly config: NodeConfig;
  readonly store: EventStore;
  readonly commands: CommandHandler;
  readonly fanOut: FanOut;
  readonly readModels: Database.Database;
  readonly runner: { waitFor(position: number): Promise<void> };
  readonly metrics: Metrics;
  readonly log: FastifyBaseLogger;
  readonly sendLimits: SendBufferLimits;
  /** Takes a token from the connection's bucket and the user's (shared by their sockets on this node). */
  allow(userId: string, connection: TokenBucket): boolean;
  /** Resolves once read models include everything this node appended. */
  consistentReads(): Promise<void>;
  /** Counts a user's subscriptions across their sockets; false when one more is over the limit. */
  subscriptionsChanged(userId: string, delta: 1 | -1): boolean;
}
