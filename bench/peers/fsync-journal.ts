/**
 * The least a server can do to make a post durable before it sends it on: append its bytes
 * to one file and fdatasync, with group commit (posts that arrive while a sync is in flight
 * share the next one). No index, no read models, no idempotency, no SQLite: the floor of
 * "fsync before ack and delivery" on this disk, for the ws peer to carry when asked.
 */
import { open, type FileHandle } from 'node:fs/promises';

interface Pending {
  readonly bytes: Buffer;
  readonly durable: () => void;
}

export class FsyncJournal {
  private pending: Pending[] = [];
  private syncing = false;

  private constructor(private readonly file: FileHandle) {}

  static async open(path: string): Promise<FsyncJournal> {
    return new FsyncJournal(await open(path, 'a'));
  }

  /** Calls `durable` once `bytes` are on disk. */
  append(bytes: Buffer, durable: () => void): void {
    this.pending.push({ bytes, durable });
    // A journal that cannot write makes every figure after it wrong: the peer stops, loudly.
    if (!this.syncing) this.drain().catch((err: unknown) => {
      process.stderr.write(`fsync journal: ${String(err)}\n`);
      process.exit(1);
    });
  }

  private async drain(): Promise<void> {
    this.syncing = true;
    try {
      while (this.pending.length > 0) {
        const batch = this.pending;
        this.pending = [];
        await this.file.write(batch.length === 1 ? batch[0]!.bytes : Buffer.concat(batch.map((p) => p.bytes)));
        await this.file.datasync();
        for (const p of batch) p.durable();
      }
    } finally {
      this.syncing = false;
    }
  }
}
