/**
 * Attachment routes. Authenticated: upload a file to a conversation, and get a short-lived
 * signed download URL for one of its attachments. Public (the signature is the key): the
 * download itself, so `<img src>` and plain links work in a browser without a header.
 */
import type { Static } from '@sinclair/typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type Database from 'better-sqlite3';
import { ParleyError } from '../../../protocol/index.js';
import { AttachmentParams, DownloadLink, DownloadQuery, Params, UploadResult } from '../../../protocol/schema/index.js';
import { isMember } from '../../../projections/index.js';
import { fetchableUpload } from '../../domain/index.js';
import { errorResponses } from '../routes/responses.js';
import { INLINE_IMAGE_TYPES } from './media-type.js';
import { signLink, verifyLink } from './signed-links.js';
import { acceptUpload, storageError, type UploadParts } from './upload.js';

const error = { $ref: 'Error#' } as const;
const answers = { ...errorResponses, 415: error };

export const attachmentRoutes: FastifyPluginAsync<UploadParts> = async (app, parts) => {
  app.addHook('onRequest', app.authenticate);
  // The body is the file, of any type: the upload reads the raw stream itself, bounded.
  app.removeAllContentTypeParsers();
  // The parser leaves the stream unread; the body it hands on is only for the schema.
  app.addContentTypeParser('*', (_request, _payload, done) => done(null, ''));

  app.post<{ Params: Static<typeof Params.conversation>; Querystring: { name?: string } }>(
    '/v1/conversations/:id/attachments',
    {
      schema: {
        summary: 'Upload a file (the body, with its Content-Type and Content-Length) to attach to a message later',
        params: Params.conversation,
        querystring: Type.Object({ name: Type.Optional(Type.String({ maxLength: 1000 })) }),
        body: Type.String({ description: "The file's bytes, with its media type as Content-Type and its length as Content-Length" }),
        consumes: ['application/octet-stream', '*/*'],
        response: { 201: UploadResult, ...answers },
      },
    },
    async (request, reply) => {
      try {
        return reply.code(201).send(await acceptUpload(parts, request, request.params.id, request.query.name));
      } catch (err) {
        // The rest of the body is not wanted: close the connection rather than read it.
        if (!request.raw.readableEnded) reply.header('connection', 'close');
        throw err;
      }
    },
  );

  app.get<{ Params: Static<typeof AttachmentParams> }>(
    '/v1/conversations/:id/attachments/:attachmentId/url',
    {
      schema: {
        summary: `A signed download URL for an attachment, valid for PARLEY_ATTACHMENT_LINK_SECONDS and only while you are a member`,
        params: AttachmentParams,
        response: { 200: DownloadLink, ...answers },
      },
    },
    async (request) => {
      const { id: conversationId, attachmentId } = request.params;
      const userId = request.user.sub;
      const state = await parts.commands.stateOf(conversationId);
      if (!state.exists || !state.members.has(userId)) throw new ParleyError('forbidden');
      if (!fetchableUpload(state, attachmentId)) throw new ParleyError('attachment_not_found');
      const expiresAt = Date.now() + parts.settings.linkSeconds * 1000;
      return { url: signLink(parts.settings.linkSecret, { conversationId, attachmentId, userId }, expiresAt), expiresAt };
    },
  );
};

export interface DownloadParts extends Pick<UploadParts, 'settings' | 'commands' | 'blobs'> {
  readModels: Database.Database;
  consistentReads(): Promise<void>;
}

export const downloadRoute: FastifyPluginAsync<DownloadParts> = async (app, parts) => {
  app.get<{ Params: { attachmentId: string }; Querystring: Static<typeof DownloadQuery> }>(
    '/v1/attachments/:attachmentId',
    {
      schema: {
        summary: 'Download an attachment through a signed URL (no bearer token: the signature is the permission)',
        params: Type.Object({ attachmentId: Type.String() }),
        querystring: DownloadQuery,
        response: { 200: { type: 'string', format: 'binary' }, ...answers },
      },
    },
    async (request, reply) => {
      const target = verifyLink(parts.settings.linkSecret, request.params.attachmentId, request.query);
      // Membership now, by both the read model and the decider's state: a removed member's link is dead at once.
      await parts.consistentReads();
      const state = await parts.commands.stateOf(target.conversationId);
      if (!isMember(parts.readModels, target.conversationId, target.userId) || !state.members.has(target.userId)) {
        throw new ParleyError('forbidden');
      }
      const upload = fetchableUpload(state, target.attachmentId);
      if (!upload) throw new ParleyError('attachment_not_found');
      const blob = await parts.blobs.open(upload.sha256).catch((err: unknown) => {
        throw storageError(err);
      });
      if (!blob) throw new ParleyError('attachment_not_found');
      const { type, name } = upload.ref;
      const inline = INLINE_IMAGE_TYPES.has(type);
      return reply
        .header('content-type', type)
        .header('content-length', String(blob.size))
        .header('content-disposition', contentDisposition(inline ? 'inline' : 'attachment', name))
        .header('cache-control', 'private, max-age=300')
        .header('content-security-policy', "default-src 'none'; sandbox")
        .header('x-content-type-options', 'nosniff')
        .send(blob.body);
    },
  );
};

/** RFC 6266: an ASCII fallback name and the exact one in UTF-8. */
function contentDisposition(kind: 'inline' | 'attachment', name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}
