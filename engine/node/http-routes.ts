/**
 * The HTTP API under /v1. Every write is a command through the same handler as the
 * WebSocket; every read comes from a read model after it has caught up with this node's
 * own writes. Non-members get 403 whether or not the conversation exists.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ParleyError, type Command, type MessageFormat } from '../../protocol/index.js';
import { conversationsOf, isMember, membersOf, presenceOf, readMessages, searchMessages } from '../../projections/index.js';
import type { Gateway } from './gateway.js';
import { bodies } from './schemas.js';

const idParam = {
  type: 'object',
  properties: { id: { type: 'string', minLength: 1, maxLength: 200 } },
  required: ['id'],
} as const;
const error = { $ref: 'Error#' } as const;
const errors = { 400: error, 401: error, 403: error, 404: error, 409: error, 413: error, 422: error, 429: error, 503: error };
const commandResult = {
  type: 'object',
  properties: { conversationId: { type: 'string' }, seq: { type: 'integer' }, messageId: { type: 'string' } },
} as const;

const created = { type: 'object', properties: { id: { type: 'string' }, seq: { type: 'integer' } } } as const;

/**
 * The command id of a request: from the body, the Idempotency-Key header, or fresh. A
 * header longer than an id may be is refused, not cut: two keys that share their first
 * 200 characters are still two commands.
 */
function commandIdOf(request: FastifyRequest, body?: { commandId?: string }): string {
  if (body?.commandId !== undefined) return body.commandId;
  const header = request.headers['idempotency-key'];
  if (typeof header !== 'string' || header.length === 0) return randomUUID();
  if (header.length > 200) throw new ParleyError('invalid_request', 'Idempotency-Key is longer than 200 characters');
  return header;
}

export function registerRoutes(app: FastifyInstance, gw: Gateway): void {
  // The request id is the correlation id: it is in every log line of the request (reqId)
  // and in the metadata of the events the command appends.
  const run = async (request: FastifyRequest, command: Command, commandId: string) => {
    try {
      const o = await gw.commands.handle(request.user.sub, command, commandId, request.id);
      // Debug, as over the socket: one line per command is hot-path work (counts are in parley_commands_total).
      request.log.debug({ command: command.type, commandId, seq: o.result.seq, duplicate: o.duplicate }, 'command handled');
      return o;
    } catch (err) {
      request.log.debug({ command: command.type, commandId, code: (err as { code?: string }).code }, 'command refused');
      throw err;
    }
  };

  const requireMember = async (request: FastifyRequest, conversationId: string) => {
    await gw.consistentReads();
    if (!isMember(gw.readModels, conversationId, request.user.sub)) throw new ParleyError('forbidden');
  };

  app.post<{ Body: { title: string; members: string[]; commandId?: string } }>(
    '/v1/conversations',
    {
      schema: {
        summary: 'Create a conversation; the caller becomes a member',
        body: bodies.createConversation,
        response: { 201: created, 200: created, ...errors },
      },
    },
    async (request, reply) => {
      const { title, members } = request.body;
      const o = await run(request, { type: 'CreateConversation', title, members }, commandIdOf(request, request.body));
      return reply.code(o.duplicate ? 200 : 201).send({ id: o.result.conversationId, seq: o.result.seq });
    },
  );

  app.get('/v1/conversations', { schema: { summary: "The caller's conversations with last message and unread count" } }, async (request) => {
    await gw.consistentReads();
    return { conversations: conversationsOf(gw.readModels, request.user.sub) };
  });

  app.post<{ Params: { id: string }; Body: { userId: string; commandId?: string } }>(
    '/v1/conversations/:id/members',
    { schema: { summary: 'Add a member (invite)', params: idParam, body: bodies.addMember, response: { 200: commandResult, ...errors } } },
    async (request) => {
      const cmd: Command = { type: 'AddMember', conversationId: request.params.id, userId: request.body.userId };
      return (await run(request, cmd, commandIdOf(request, request.body))).result;
    },
  );

  app.delete<{ Params: { id: string; userId: string } }>(
    '/v1/conversations/:id/members/:userId',
    { schema: { summary: 'Remove a member; anyone may remove themselves (leave), the creator anyone', response: { 200: commandResult, ...errors } } },
    async (request) => {
      const cmd: Command = { type: 'RemoveMember', conversationId: request.params.id, userId: request.params.userId };
      return (await run(request, cmd, commandIdOf(request))).result;
    },
  );

  app.post<{ Params: { id: string }; Body: { clientMessageId: string; text: string; format?: MessageFormat } }>(
    '/v1/conversations/:id/messages',
    {
      schema: {
        summary: 'Post a message; re-sending a clientMessageId returns the original result (200) and appends nothing',
        params: idParam,
        body: bodies.postMessage,
        response: { 201: commandResult, 200: commandResult, ...errors },
      },
    },
    async (request, reply) => {
      const { clientMessageId, text, format } = request.body;
      const command: Command = { type: 'PostMessage', conversationId: request.params.id, text, ...(format && { format }) };
      const o = await run(request, command, clientMessageId);
      return reply.code(o.duplicate ? 200 : 201).send(o.result);
    },
  );

  app.get<{ Params: { id: string }; Querystring: { after?: number; before?: number; limit: number } }>(
    '/v1/conversations/:id/messages',
    {
      schema: {
        summary: 'Messages in seq order: after a seq (forwards, default after=0) or before a seq (the page before it)',
        params: idParam,
        querystring: {
          type: 'object',
          properties: {
            after: { type: 'integer', minimum: 0 },
            before: { type: 'integer', minimum: 1 },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          },
          additionalProperties: false,
        },
      },
    },
    async (request) => {
      await requireMember(request, request.params.id);
      const { after, before, limit } = request.query;
      if (after !== undefined && before !== undefined) throw new ParleyError('invalid_request', 'Use either after or before, not both');
      return { messages: readMessages(gw.readModels, request.params.id, { after, before, limit }) };
    },
  );

  app.delete<{ Params: { id: string; messageId: string } }>(
    '/v1/conversations/:id/messages/:messageId',
    { schema: { summary: 'Delete a message (its author only)', response: { 200: commandResult, ...errors } } },
    async (request) => {
      const cmd: Command = { type: 'DeleteMessage', conversationId: request.params.id, messageId: request.params.messageId };
      return (await run(request, cmd, commandIdOf(request))).result;
    },
  );

  app.post<{ Params: { id: string; messageId: string }; Body: { emoji: string; commandId?: string } }>(
    '/v1/conversations/:id/messages/:messageId/reactions',
    { schema: { summary: 'React to a message', body: bodies.reaction, response: { 200: commandResult, ...errors } } },
    async (request) => {
      const { id, messageId } = request.params;
      const cmd: Command = { type: 'AddReaction', conversationId: id, messageId, emoji: request.body.emoji };
      return (await run(request, cmd, commandIdOf(request, request.body))).result;
    },
  );

  app.delete<{ Params: { id: string; messageId: string; emoji: string } }>(
    '/v1/conversations/:id/messages/:messageId/reactions/:emoji',
    { schema: { summary: 'Remove your reaction', response: { 200: commandResult, ...errors } } },
    async (request) => {
      const { id, messageId, emoji } = request.params;
      if (emoji.length > 64) throw new ParleyError('invalid_request', 'emoji is too long');
      const cmd: Command = { type: 'RemoveReaction', conversationId: id, messageId, emoji };
      return (await run(request, cmd, commandIdOf(request))).result;
    },
  );

  app.post<{ Params: { id: string }; Body: { seq: number; commandId?: string } }>(
    '/v1/conversations/:id/read',
    { schema: { summary: 'Set your read marker to a seq', params: idParam, body: bodies.markRead, response: { 200: commandResult, ...errors } } },
    async (request) => {
      const cmd: Command = { type: 'MarkRead', conversationId: request.params.id, seq: request.body.seq };
      return (await run(request, cmd, commandIdOf(request, request.body))).result;
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/conversations/:id/presence',
    { schema: { summary: 'Members online now, and when the others were last seen', params: idParam } },
    async (request) => {
      await requireMember(request, request.params.id);
      return { members: presenceOf(gw.readModels, membersOf(gw.readModels, request.params.id)) };
    },
  );

  app.get<{ Querystring: { q: string; conversation?: string; limit: number } }>(
    '/v1/search',
    {
      schema: {
        summary: "Full-text search over the messages of the caller's conversations, newest first",
        querystring: {
          type: 'object',
          properties: {
            q: { type: 'string', minLength: 1, maxLength: 500 },
            conversation: { type: 'string', maxLength: 200 },
            limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
          },
          required: ['q'],
          additionalProperties: false,
        },
      },
    },
    async (request) => {
      await gw.consistentReads();
      const { q, conversation, limit } = request.query;
      return { hits: searchMessages(gw.readModels, request.user.sub, q, { conversationId: conversation, limit }) };
    },
  );
}
