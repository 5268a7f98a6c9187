/**
 * Receives an upload's body into a temp file: streamed, hashed (SHA-256) and counted on
 * the way, never held in memory beyond one chunk and the first IMAGE_HEAD_BYTES (for the
 * type and an image's size). The body must be exactly Content-Length bytes; one that
 * stops sending for `idleMs` is cut (slow-loris). The file is fsync'd before this
 * returns; on any failure it is removed. A process killed meanwhile leaves only a temp
 * file, which the next start removes (clearTempDir).
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, open, readdir, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { ParleyError } from '../../../protocol/index.js';
import { IMAGE_HEAD_BYTES } from './image-size.js';

export interface ReceivedUpload {
  tempFile: string;
  sha256: string;
  size: number;
  /** The first bytes, for sniffing the type and reading an image's size. */
  head: Buffer;
}

export async function receiveUpload(body: Readable, options: { tempDir: string; expectedBytes: number; idleMs: number }): Promise<ReceivedUpload> {
  const tempFile = join(options.tempDir, `${randomUUID()}.part`);
  const file = await open(tempFile, 'wx');
  const hash = createHash('sha256');
  const headChunks: Buffer[] = [];
  let headBytes = 0;
  let size = 0;
  const idle = idleTimer(options.idleMs);
  // Read step by step, racing each chunk against the idle timer; a cut leaves the request
  // stream alone (destroying it would drop the socket before the refusal is sent).
  const chunks = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  try {
    for (;;) {
      const next = await Promise.race([chunks.next(), idle.expired]);
      if (next.done) break;
      idle.reset();
      const chunk = next.value;
      size += chunk.length;
      if (size > options.expectedBytes) throw new ParleyError('upload_incomplete', 'The body is longer than its Content-Length');
      hash.update(chunk);
      if (headBytes < IMAGE_HEAD_BYTES) {
        const part = chunk.subarray(0, IMAGE_HEAD_BYTES - headBytes);
        headChunks.push(Buffer.from(part));
        headBytes += part.length;
      }
      await file.write(chunk);
    }
    if (size !== options.expectedBytes) throw new ParleyError('upload_incomplete');
    await file.sync();
    await file.close();
    return { tempFile, sha256: hash.digest('hex'), size, head: Buffer.concat(headChunks) };
  } catch (err) {
    await file.close().catch(() => undefined);
    await unlink(tempFile).catch(() => undefined);
    if (err instanceof ParleyError) throw err;
    // The client went away (aborted, reset): nothing to answer, but a coded error for the log.
    throw new ParleyError('upload_incomplete', 'The upload was cut off', { cause: err });
  } finally {
    idle.stop();
  }
}

/** A promise that rejects once `ms` pass without a reset. */
function idleTimer(ms: number) {
  let fail: (err: Error) => void = () => undefined;
  const expired = new Promise<never>((_resolve, reject) => (fail = reject));
  expired.catch(() => undefined); // observed by the race; never an unhandled rejection
  let timer: NodeJS.Timeout | undefined;
  const reset = () => {
    clearTimeout(timer);
    timer = setTimeout(() => fail(new ParleyError('upload_incomplete', `No bytes for ${ms} ms: the upload was cut`)), ms);
  };
  reset();
  return { expired, reset, stop: () => clearTimeout(timer) };
}

/** The upload temp directory, emptied: what a killed process left half-written goes here. */
export async function clearTempDir(dir: string): Promise<number> {
  await mkdir(dir, { recursive: true });
  const left = await readdir(dir);
  await Promise.all(left.map((name) => rm(join(dir, name), { force: true, recursive: true })));
  return left.length;
}
