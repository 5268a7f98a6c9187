/** How read routes reach the read models: only once they include this node's own writes. */
import type Database from 'better-sqlite3';
import type { FastifyRequest } from 'fastify';
import { ParleyError } from '../../../protocol/index.js';
import { isMember } from '../../../projections/index.js';

export interface ReadAccess {
  /** This thread's connection to the read models, for queries. */
  readonly readModels: Database.Database;
  /** Resolves once the read models include everything this node appended (read-your-writes). */
  consistentReads(): Promise<void>;
  /** Resolves once the read models include everything in the log now, whichever node wrote it (see log-head.ts). */
  caughtUpWithLog(): Promise<void>;
}

/**
 * Non-members get 403 whether or not the conversation exists. A refusal is checked once
 * more against the whole log: on a cluster, the user may have been added through another node.
 */
export async function requireMember(reads: ReadAccess, request: FastifyRequest, conversationId: string): Promise<void> {
  await reads.consistentReads();
  if (isMember(reads.readModels, conversationId, request.user.sub)) return;
  await reads.caughtUpWithLog();
  if (!isMember(reads.readModels, conversationId, request.user.sub)) throw new ParleyError('forbidden');
}
