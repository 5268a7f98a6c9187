/**
 * Attachment bytes in the data directory: `attachments/blobs/ab/abcdef…`. A blob appears
 * by rename from a fsync'd temp file and the directory is fsync'd after, so a crash leaves
 * either the whole blob or none.
 */
import { mkdir, open, rename, stat, unlink, utimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { blobKey, type BlobStore, type StoredBlob } from './blob-store.js';

export class LocalBlobs implements BlobStore {
  readonly kind = 'local';

  constructor(private readonly dir: string) {}

  async put(sha256: string, tempFile: string, _size: number): Promise<void> {
    const target = join(this.dir, blobKey(sha256));
    await mkdir(dirname(target), { recursive: true });
    await rename(tempFile, target);
    // rename keeps the temp file's mtime (when the upload began): storedAt is now.
    const now = new Date();
    await utimes(target, now, now);
    await fsyncDir(dirname(target));
  }

  async open(sha256: string): Promise<StoredBlob | undefined> {
    const file = join(this.dir, blobKey(sha256));
    try {
      const handle = await open(file, 'r');
      const { size } = await handle.stat();
      return { body: handle.createReadStream(), size };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async storedAt(sha256: string): Promise<number | undefined> {
    try {
      return (await stat(join(this.dir, blobKey(sha256)))).mtimeMs;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async remove(sha256: string): Promise<void> {
    await unlink(join(this.dir, blobKey(sha256))).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  async close(): Promise<void> {}
}

/** Makes a rename into `dir` durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
