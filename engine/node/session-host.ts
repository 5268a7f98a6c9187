/**
 * What a WebSocket session needs from the node, and nothing more: the command handler's
 * entry point, the log for catch-ups, fan-out registration, membership from the read
 * models, the per-user limits shared by a user's sockets, and where to count and log.
 * The node builds one host for all sessions (`sessionHost`); the gateway only hands it
 * to the sessions it makes.
 */
import type Database from 'better-sqlite3';
import type { FastifyBaseLogger } from 'fastify';
import { isMember } from '../../projections/index.js';
import type { CommandHandler } from './command-handler.js';
import type { NodeConfig } from './config/index.js';
import type { FanOut } from './fan-out.js';
import type { Metrics } from './metrics.js';
import type { TokenBucket } from './rate-limit.js';
import { sendBufferLimits, type SendBufferLimits } from './send-buffer.js';
import type { StreamReader } from './subscription.js';
import type { UserLimits } from './user-limits.js';

/** The bounds of one socket: its rate, its subscriptions and their catch-ups. */
export type SessionLimits = Pick<
  NodeConfig,
  'rateLimitPerConnection' | 'maxSubscribeEntries' | 'maxSubscriptionsPerSocket' | 'maxSubscriptionsPerUser' | 'catchUpLimit' | 'slowConsumerSeconds'
>;

export interface SessionHost {
  readonly limits: SessionLimits;
  /** The send-buffer limits every socket shares. */
  readonly sendLimits: SendBufferLimits;
  readonly commands: Pick<CommandHandler, 'handle'>;
  /** The log, read by catch-ups. */
  readonly streams: StreamReader;
  readonly fanOut: Pick<FanOut, 'add' | 'remove' | 'typing'>;
  /** Whether the user is a member of the conversation, per the read models as they are now. */
  isMember(conversationId: string, userId: string): boolean;
  /** Resolves once the read models include the log up to `position`. */
  readModelsAt(position: number): Promise<void>;
  /** Resolves once the read models include everything this node appended (read-your-writes). */
  consistentReads(): Promise<void>;
  /** Resolves once the read models include everything in the log now, whichever node wrote it. */
  caughtUpWithLog(): Promise<void>;
  /** Takes a token from the connection's bucket and the user's (shared by their sockets on this node). */
  allow(userId: string, connection: TokenBucket): boolean;
  /** Counts a user's subscriptions across their sockets; false when one more is over the limit. */
  subscriptionsChanged(userId: string, delta: 1 | -1): boolean;
  readonly metrics: Pick<Metrics, 'slowConsumers' | 'errorsSent'>;
  readonly log: FastifyBaseLogger;
}

/** The node's parts a session host is made of. */
export interface SessionHostParts {
  readonly config: SessionLimits & Pick<NodeConfig, 'maxSendBufferBytes'>;
  readonly commands: SessionHost['commands'];
  readonly store: StreamReader;
  readonly fanOut: SessionHost['fanOut'];
  readonly readModels: Database.Database;
  readonly runner: { waitFor(position: number): Promise<void> };
  /** Resolves once the read models include everything this node appended. */
  consistentReads(): Promise<void>;
  caughtUpWithLog(): Promise<void>;
  readonly users: Pick<UserLimits, 'allow' | 'subscriptionsChanged'>;
  readonly metrics: SessionHost['metrics'];
  readonly log: FastifyBaseLogger;
}

/** The one host every session of the node shares. */
export function sessionHost({ config, commands, store, fanOut, readModels, runner, consistentReads, caughtUpWithLog, users, metrics, log }: SessionHostParts): SessionHost {
  return {
    limits: config,
    sendLimits: sendBufferLimits(config.maxSendBufferBytes, config.slowConsumerSeconds * 1000),
    commands,
    streams: store,
    fanOut,
    isMember: (conversationId, userId) => isMember(readModels, conversationId, userId),
    readModelsAt: (position) => runner.waitFor(position),
    consistentReads,
    caughtUpWithLog,
    allow: (userId, connection) => users.allow(userId, connection),
    subscriptionsChanged: (userId, delta) => users.subscriptionsChanged(userId, delta),
    metrics,
    log,
  };
}
