/**
 * Attachments: files uploaded to a conversation (HTTP, streamed) and attached to a message
 * by id. The message event carries a copy of each attachment's description, so a client
 * can show a file or an image's box without asking; the bytes are fetched through a
 * short-lived signed URL (`GET /v1/conversations/:id/attachments/:attachmentId/url`).
 */
import { Type } from '@sinclair/typebox';
import { EpochMs, Id, Strict } from './primitives.js';

/** At most this many attachments ride on one message. */
export const MAX_ATTACHMENTS_PER_MESSAGE = 10;

/** The ids of uploads a PostMessage attaches (each once, each uploaded by the sender to this conversation). */
export const AttachmentIds = Type.Array(Id, { maxItems: MAX_ATTACHMENTS_PER_MESSAGE, uniqueItems: true });

/** An attachment as a message carries it: what a client needs to show it before fetching it. */
export const AttachmentRef = Type.Object({
  id: Type.String(),
  /** The file name the uploader gave (cleaned: no path, no control characters). */
  name: Type.String(),
  /** The media type the node stored it under (sniffed for images, see PROTOCOL.md). */
  type: Type.String(),
  size: Type.Integer({ minimum: 0 }),
  width: Type.Optional(Type.Integer({ minimum: 1 })),
  height: Type.Optional(Type.Integer({ minimum: 1 })),
});

/** `AttachmentUploaded` data: an upload stored and known to the conversation, not yet attached. */
export const AttachmentUploadedData = Type.Object({
  attachment: AttachmentRef,
  uploadedBy: Type.String(),
  /** Hex SHA-256 of the bytes: where the storage keeps them (the same bytes are stored once). */
  sha256: Type.String(),
});

/** `AttachmentDiscarded` data: an upload never attached within the orphan period; it can no longer be attached or fetched. */
export const AttachmentDiscardedData = Type.Object({
  attachmentId: Type.String(),
  reason: Type.String(),
});

/** What `POST /v1/conversations/:id/attachments` answers. */
export const UploadResult = Type.Object({
  attachment: AttachmentRef,
  conversationId: Id,
  seq: Type.Integer({ minimum: 1 }),
});

/** What the download-URL route answers: the URL (relative to the node) and when it stops working. */
export const DownloadLink = Type.Object({ url: Type.String(), expiresAt: EpochMs });

export const AttachmentParams = Strict({ id: Type.String(), attachmentId: Type.String() });

/** The query of a signed download URL. */
export const DownloadQuery = Type.Object({
  c: Type.String({ maxLength: 200 }),
  u: Type.String({ maxLength: 200 }),
  e: Type.String({ maxLength: 20 }),
  s: Type.String({ maxLength: 100 }),
});
