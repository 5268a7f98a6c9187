/**
 * Attachment bytes in S3-compatible object storage (AWS S3, MinIO, Ceph RGW, …) through
 * the maintained AWS SDK client. One PUT makes an object visible whole, so the temp file
 * is uploaded in one request and removed after. Checksums are sent only where the API
 * requires them: several S3-compatible servers refuse the SDK's newer default
 * (aws-chunked bodies with trailing checksums).
 */
import { createReadStream } from 'node:fs';
import { unlink } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { S3Settings } from '../config/index.js';
import { blobKey, type BlobStore, type StoredBlob } from './blob-store.js';

export class S3Blobs implements BlobStore {
  readonly kind = 's3';
  private readonly client: S3Client;

  constructor(private readonly settings: S3Settings) {
    this.client = new S3Client({
      region: settings.region,
      forcePathStyle: settings.forcePathStyle,
      ...(settings.endpoint && { endpoint: settings.endpoint }),
      ...(settings.accessKeyId && settings.secretAccessKey && {
        credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey },
      }),
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 3,
    });
  }

  private key(sha256: string): string {
    return `${this.settings.prefix}${blobKey(sha256)}`;
  }

  async put(sha256: string, tempFile: string, size: number): Promise<void> {
    await this.client.send(
      new PutObjectCommand({ Bucket: this.settings.bucket, Key: this.key(sha256), Body: createReadStream(tempFile), ContentLength: size }),
    );
    await unlink(tempFile);
  }

  async open(sha256: string): Promise<StoredBlob | undefined> {
    try {
      const o = await this.client.send(new GetObjectCommand({ Bucket: this.settings.bucket, Key: this.key(sha256) }));
      return { body: o.Body as Readable, size: o.ContentLength ?? 0 };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async storedAt(sha256: string): Promise<number | undefined> {
    try {
      const o = await this.client.send(new HeadObjectCommand({ Bucket: this.settings.bucket, Key: this.key(sha256) }));
      return o.LastModified?.getTime() ?? 0;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async remove(sha256: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: this.key(sha256) }));
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}
