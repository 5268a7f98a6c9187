/**
 * The retention sweep: every `everySeconds`, the conversations that have a retention
 * period (conversation-list read model), at most SWEEP_BATCH per tick and one at a time,
 * each get at most one `MessagesExpired` (decided by engine/domain/retention.ts against
 * the conversation's state, so the work of one is bounded too). Round-robin by id: a tick
 * goes on from where the last one stopped. Safe with several nodes: each decides against
 * the log with an expected version, so the second node's identical sweep conflicts,
 * reloads and decides nothing. Ticks never overlap; an error is logged and the next tick
 * tries again, never more.
 */
import type Database from 'better-sqlite3';
import type { FastifyBaseLogger } from 'fastify';
import { conversationsWithRetention } from '../../projections/index.js';
import { PeriodicTask } from './periodic-task.js';
import type { CommandHandler } from './command-handler.js';

/** Conversations one tick sweeps at most. */
export const SWEEP_BATCH = 100;

export interface RetentionSweepParts {
  commands: Pick<CommandHandler, 'expire'>;
  readModels: Database.Database;
  nodeId: string;
  everySeconds: number;
  log: FastifyBaseLogger;
}

export class RetentionSweep {
  private readonly task: PeriodicTask;
  /** The id the next tick starts after ('' = from the start). */
  private cursor = '';

  constructor(private readonly parts: RetentionSweepParts) {
    this.task = new PeriodicTask(parts.everySeconds * 1000, () => this.sweepOnce(), (err) =>
      this.parts.log.error({ err }, 'retention sweep failed; trying again next tick'),
    );
  }

  start(): void {
    this.task.start();
  }

  stop(): Promise<void> {
    return this.task.stop();
  }

  /** One bounded round; returns how many conversations had content expire. */
  async sweepOnce(now = Date.now()): Promise<number> {
    const { commands, readModels, nodeId, log } = this.parts;
    const ids = conversationsWithRetention(readModels, this.cursor, SWEEP_BATCH);
    this.cursor = ids.length < SWEEP_BATCH ? '' : ids[ids.length - 1]!;
    let expired = 0;
    for (const conversationId of ids) {
      if (this.task.stopped) break;
      try {
        const through = await commands.expire(conversationId, `node:${nodeId}`, now);
        if (through > 0) {
          expired += 1;
          log.info({ conversationId, throughSeq: through }, 'retention: message content expired');
        }
      } catch (err) {
        log.warn({ err, conversationId }, 'retention: could not expire a conversation; trying again next tick');
      }
    }
    return expired;
  }
}
