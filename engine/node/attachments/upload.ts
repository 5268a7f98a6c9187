/**
 * One upload from request to event: checks that need no bytes (member, length, declared
 * type), the body into a fsync'd temp file, the type from the bytes, an image's size,
 * the blob stored under its hash, and then `AttachmentUploaded` appended with the same
 * authority as a command. Only after the append is the upload known: a node killed
 * before it leaves at most a temp file (removed at the next start) or an unreferenced,
 * whole blob.
 */
import { randomUUID } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import type { FastifyRequest } from 'fastify';
import { ParleyError, toWellFormed } from '../../../protocol/index.js';
import { decideUpload } from '../../domain/index.js';
import type { CommandHandler } from '../command-handler.js';
import type { AttachmentSettings } from '../config/index.js';
import type { BlobStore } from './blob-store.js';
import { imageSize } from './image-size.js';
import { declaredType, INLINE_IMAGE_TYPES, isAllowed, storedType } from './media-type.js';
import { receiveUpload } from './receive-upload.js';
import type { UploadSlots } from './upload-limits.js';

export interface UploadParts {
  settings: AttachmentSettings;
  commands: Pick<CommandHandler, 'stateOf' | 'applyToConversation'>;
  blobs: BlobStore;
  slots: UploadSlots;
  tempDir: string;
}

export async function acceptUpload(parts: UploadParts, request: FastifyRequest, conversationId: string, givenName: string | undefined) {
  const { settings, commands, blobs } = parts;
  const actor = request.user.sub;
  // What the headers alone refuse, first: it tells nothing about the conversation.
  const declared = declaredType(request.headers['content-type']);
  if (!declared) throw new ParleyError('attachment_type_refused', "Send the file's media type as Content-Type");
  if (!isAllowed(declared, settings.types)) throw new ParleyError('attachment_type_refused', `${declared} is not accepted here`);
  const expectedBytes = contentLength(request, settings.maxBytes);
  const state = await commands.stateOf(conversationId);
  if (!state.exists || !state.members.has(actor)) throw new ParleyError('forbidden');
  const release = parts.slots.take(actor);
  try {
    const received = await receiveUpload(request.raw, { tempDir: parts.tempDir, expectedBytes, idleMs: settings.idleSeconds * 1000 });
    let type: string;
    try {
      type = storedType(declared, received.head, settings.types);
      await blobs.put(received.sha256, received.tempFile, received.size);
    } catch (err) {
      await unlink(received.tempFile).catch(() => undefined);
      throw storageError(err);
    }
    const size = INLINE_IMAGE_TYPES.has(type) ? imageSize(type, received.head) : undefined;
    const attachment = { id: randomUUID(), name: fileName(givenName), type, size: received.size, ...size };
    const { seq } = await commands.applyToConversation(
      conversationId,
      { actor, commandId: `upload:${attachment.id}`, correlationId: request.id },
      (s) => decideUpload(s as Parameters<typeof decideUpload>[0], actor, { attachment, sha256: received.sha256 }),
    );
    request.log.info({ conversationId, attachmentId: attachment.id, bytes: received.size, type }, 'attachment uploaded');
    return { attachment, conversationId, seq };
  } finally {
    release();
  }
}

/** The body's announced length: required (a stream of unknown length cannot be bounded up front) and within the limit. */
function contentLength(request: FastifyRequest, maxBytes: number): number {
  const header = request.headers['content-length'];
  if (typeof header !== 'string' || !/^\d{1,15}$/.test(header)) throw new ParleyError('upload_incomplete', 'Send the file with a Content-Length');
  const n = Number(header);
  if (n > maxBytes) throw new ParleyError('attachment_too_large', `The file is larger than ${maxBytes} bytes`);
  return n;
}

/** The name as given, without a path, control characters or lone surrogates, at most 255 characters. */
export function fileName(given: string | undefined): string {
  const base = toWellFormed(given ?? '').split(/[\\/]/).pop() ?? '';
  // eslint-disable-next-line no-control-regex
  const clean = base.replace(/[\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069]/g, '').trim().slice(0, 255);
  return clean === '' || clean === '.' || clean === '..' ? 'file' : clean;
}

/** Storage failures answer `unavailable` (try again); refusals pass as they are. */
export function storageError(err: unknown): unknown {
  return err instanceof ParleyError ? err : new ParleyError('unavailable', 'The attachment storage did not answer', { cause: err });
}
