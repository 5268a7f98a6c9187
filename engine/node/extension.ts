/**
 * How a layer adds itself to a node (Yjs sync, analytics, …) without the node knowing
 * its internals: it may bring projections and register routes with the node's parts.
 */
import type Database from 'better-sqlite3';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Projection, ReadModelRunner } from '../../projections/index.js';
import type { EventStore } from '../store/index.js';
import type { CommandHandler } from './command-handler.js';
import type { NodeConfig } from './config/index.js';
import type { Metrics } from './metrics.js';
import type { TokenClaims } from './auth/index.js';

export interface NodeContext {
  app: FastifyInstance;
  config: NodeConfig;
  store: EventStore;
  readModels: Database.Database;
  runner: ReadModelRunner;
  /** Appends to conversations with the same authority, ordering and retries as commands. */
  commands: CommandHandler;
  metrics: Metrics;
  /**
   * The caller of a WebSocket upgrade (bearer header or `?token=`), null without a valid
   * token; rejects with `unavailable` when the identity provider's keys cannot be fetched.
   */
  authenticateUpgrade(request: FastifyRequest): Promise<TokenClaims | null>;
  /** Resolves once read models include everything this node appended. */
  consistentReads(): Promise<void>;
  /** A rate limiter for one connection, with the node's per-connection and per-user limits. */
  connectionLimiter(userId: string): { take(): boolean };
}

export interface NodeExtension {
  readonly name: string;
  /** Read models the extension needs; run by the node's projection runner. */
  readonly projections?: Projection[];
  /** Called before the node listens. */
  register(ctx: NodeContext): void | Promise<void>;
  /** Called when the node closes, before the store closes. */
  close?(): void | Promise<void>;
}
