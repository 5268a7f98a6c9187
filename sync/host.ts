/**
 * What sync needs from the node it runs in, declared here with the lower layers' types
 * (the store, the domain, Fastify, prom-client) so sync never imports the node: the node
 * is built on sync, not the other way round. A node's context satisfies it as it is.
 */
import type Database from 'better-sqlite3';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import type { ConversationState } from '../engine/domain/index.js';
import type { EventStore, LogCursor, StoredEvent } from '../engine/store/index.js';
import type { Projection } from '../projections/index.js';
import type { SyncLimits } from './limits/index.js';

export interface SyncHost {
  app: FastifyInstance;
  config: { maxTextBytes: number; maxSendBufferBytes: number; maxSocketsPerUser: number; maxSubscriptionsPerSocket: number; syncLimits: SyncLimits };
  store: EventStore;
  readModels: Database.Database;
  runner: { waitForCursor(cursor: LogCursor): Promise<void> };
  commands: {
    /** Per partition, the position of the newest event this node appended. */
    readonly written: LogCursor;
    stateOf(conversationId: string): Promise<Readonly<ConversationState>>;
    /** Appends what `decide` returns against the conversation's state, with the authority and ordering of commands. */
    applyToConversation(
      conversationId: string,
      meta: { actor: string; commandId: string },
      decide: (state: Readonly<ConversationState>) => Array<{ type: string; data: unknown }>,
    ): Promise<{ seq: number; events: StoredEvent[] }>;
  };
  metrics: { registry: Registry };
  /** The caller of an upgrade (its bearer token), null without a valid one; rejects with `unavailable` when keys cannot be fetched. */
  authenticateUpgrade(request: FastifyRequest): Promise<{ sub: string } | null>;
  connectionLimiter(userId: string): { take(): boolean };
}

/** How sync adds itself to a node (the node's extension shape, declared from this side). */
export interface SyncNodeExtension {
  readonly name: string;
  readonly projections?: Projection[];
  register(host: SyncHost): void | Promise<void>;
  close?(): void | Promise<void>;
}
