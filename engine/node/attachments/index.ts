/**
 * Attachments on a node: files uploaded to a conversation, attached to messages, fetched
 * through signed links, stored locally or in S3-compatible storage, orphans collected.
 * Added to every node as an extension (node.ts) that registers its routes and timer; its
 * read model (attachment-uploads) is a built-in one, so `parley rebuild` knows it.
 */
import { join } from 'node:path';
import type { NodeContext, NodeExtension } from '../extension.js';
import type { BlobStore } from './blob-store.js';
import { LocalBlobs } from './local-blobs.js';
import { OrphanCollector } from './orphan-collector.js';
import { clearTempDir } from './receive-upload.js';
import { attachmentRoutes, downloadRoute } from './routes.js';
import { UploadSlots } from './upload-limits.js';

export type { BlobStore, StoredBlob } from './blob-store.js';
export { LocalBlobs } from './local-blobs.js';
export { imageSize, type ImageSize } from './image-size.js';
export { sniff, storedType } from './media-type.js';
export { signLink, verifyLink } from './signed-links.js';
export { OrphanCollector, type CollectResult } from './orphan-collector.js';

export interface AttachmentsExtension extends NodeExtension {
  /** Set once registered: the storage and the collector, for tests and operators. */
  readonly blobs: BlobStore | undefined;
  readonly collector: OrphanCollector | undefined;
}

export function attachmentsExtension(): AttachmentsExtension {
  let blobs: BlobStore | undefined;
  let collector: OrphanCollector | undefined;
  return {
    name: 'attachments',
    get blobs() {
      return blobs;
    },
    get collector() {
      return collector;
    },
    async register(ctx: NodeContext) {
      const settings = ctx.config.attachments;
      const root = join(ctx.config.dataDir, 'attachments');
      const tempDir = join(root, 'incoming');
      const leftOver = await clearTempDir(tempDir);
      if (leftOver > 0) ctx.app.log.info({ files: leftOver, dir: tempDir }, 'removed uploads a previous run left unfinished');
      // The AWS SDK is large: loaded only by nodes configured for S3, so others start as fast as before.
      blobs = settings.s3 ? new (await import('./s3-blobs.js')).S3Blobs(settings.s3) : new LocalBlobs(join(root, 'blobs'));
      const parts = { settings, commands: ctx.commands, blobs, slots: new UploadSlots(settings), tempDir };
      await ctx.app.register(attachmentRoutes, parts);
      await ctx.app.register(downloadRoute, { ...parts, readModels: ctx.readModels, consistentReads: ctx.consistentReads });
      collector = new OrphanCollector({
        settings,
        commands: ctx.commands,
        readModels: ctx.readModels,
        waitForCursor: (cursor) => ctx.runner.waitForCursor(cursor),
        blobs,
        nodeId: ctx.config.nodeId,
        log: ctx.app.log,
      });
      collector.start();
    },
    async close() {
      await collector?.stop();
      await blobs?.close();
    },
  };
}
