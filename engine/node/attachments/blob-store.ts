/**
 * Where attachment bytes live: a port with two adapters, the node's data directory
 * (local-blobs.ts, the default) and S3-compatible object storage (s3-blobs.ts). Blobs are
 * keyed by the SHA-256 of their bytes, so the same file uploaded twice is stored once.
 *
 * `put` takes a complete, fsync'd temp file and makes it visible under its hash in one
 * step (a rename, or one object PUT), so a blob is either whole or absent. It always
 * (re)writes, which also refreshes `storedAt`: the orphan collector deletes a blob only if
 * nobody stored it within the orphan period, so a new upload of the same bytes is never
 * lost to a collection that decided on an older one.
 */
import type { Readable } from 'node:stream';

export interface StoredBlob {
  body: Readable;
  size: number;
}

export interface BlobStore {
  /** 'local' or 's3', for logs. */
  readonly kind: string;
  /** Makes the temp file's bytes the blob `sha256` (the temp file is gone afterwards). */
  put(sha256: string, tempFile: string, size: number): Promise<void>;
  /** The blob's bytes, or undefined if there is none. */
  open(sha256: string): Promise<StoredBlob | undefined>;
  /** When the blob was last stored (ms since the epoch), or undefined if there is none. */
  storedAt(sha256: string): Promise<number | undefined>;
  /** Removes the blob; nothing if there is none. */
  remove(sha256: string): Promise<void>;
  close(): Promise<void>;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** A hash as a storage key: only ever 64 hex digits, so no key can leave its folder or prefix. */
export function blobKey(sha256: string): string {
  if (!SHA256_HEX.test(sha256)) throw new Error('not a sha256 hex digest');
  return `${sha256.slice(0, 2)}/${sha256}`;
}
