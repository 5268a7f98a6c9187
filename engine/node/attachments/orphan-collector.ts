/**
 * Collects uploads nobody attached within the orphan period: each tick discards at most
 * `collectBatch` of them (an `AttachmentDiscarded` event, decided against the
 * conversation's state so an upload attached meanwhile stays), then removes the blobs no
 * remaining upload uses and nobody stored within the period. Ticks never overlap; an
 * error is logged and the next tick tries again, never more.
 */
import type Database from 'better-sqlite3';
import type { FastifyBaseLogger } from 'fastify';
import { blobInUse, pendingUploadsBefore, uploadSha256 } from '../../../projections/index.js';
import { decideDiscard } from '../../domain/index.js';
import type { LogCursor } from '../../store/index.js';
import { PeriodicTask } from '../periodic-task.js';
import type { CommandHandler } from '../command-handler.js';
import type { AttachmentSettings } from '../config/index.js';
import type { BlobStore } from './blob-store.js';

export interface CollectorParts {
  settings: Pick<AttachmentSettings, 'orphanSeconds' | 'collectEverySeconds' | 'collectBatch'>;
  commands: Pick<CommandHandler, 'applyToConversation' | 'written'>;
  readModels: Database.Database;
  waitForCursor(cursor: LogCursor): Promise<void>;
  blobs: BlobStore;
  nodeId: string;
  log: FastifyBaseLogger;
}

export interface CollectResult {
  discarded: number;
  blobsRemoved: number;
  failed: number;
}

export class OrphanCollector {
  private readonly task: PeriodicTask;

  constructor(private readonly parts: CollectorParts) {
    this.task = new PeriodicTask(parts.settings.collectEverySeconds * 1000, () => this.collectOnce(), (err) =>
      this.parts.log.error({ err }, 'attachment orphan collection failed; trying again next tick'),
    );
  }

  start(): void {
    this.task.start();
  }

  stop(): Promise<void> {
    return this.task.stop();
  }

  /** One bounded round: discard up to a batch of orphans, then remove their unused blobs. */
  async collectOnce(now = Date.now()): Promise<CollectResult> {
    const { settings, commands, readModels, blobs, log } = this.parts;
    const before = now - settings.orphanSeconds * 1000;
    const result: CollectResult = { discarded: 0, blobsRemoved: 0, failed: 0 };
    const hashes = new Set<string>();
    for (const { conversationId, attachmentId } of pendingUploadsBefore(readModels, before, settings.collectBatch)) {
      try {
        const sha = uploadSha256(readModels, conversationId, attachmentId);
        const { events } = await commands.applyToConversation(
          conversationId,
          { actor: `node:${this.parts.nodeId}`, commandId: `discard:${attachmentId}` },
          (state) => decideDiscard(state as Parameters<typeof decideDiscard>[0], attachmentId, 'orphaned'),
        );
        result.discarded += events.length;
        if (sha) hashes.add(sha);
      } catch (err) {
        result.failed += 1;
        log.warn({ err, conversationId, attachmentId }, 'could not discard an orphaned attachment');
      }
    }
    if (hashes.size === 0) return result;
    await this.parts.waitForCursor(commands.written);
    for (const sha of hashes) {
      try {
        if (blobInUse(readModels, sha)) continue;
        const storedAt = await blobs.storedAt(sha);
        if (storedAt === undefined || storedAt >= before) continue;
        await blobs.remove(sha);
        result.blobsRemoved += 1;
      } catch (err) {
        result.failed += 1;
        log.warn({ err, sha256: sha }, 'could not remove an orphaned attachment blob');
      }
    }
    if (result.discarded + result.blobsRemoved + result.failed > 0) log.info(result, 'attachment orphans collected');
    return result;
  }
}
