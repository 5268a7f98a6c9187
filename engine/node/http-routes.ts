/**
 * The HTTP API under /v1. Every write is a command through the same handler as the
 * WebSocket; every read comes from a read model after it has caught up with this node's
 * own writes. Non-members get 403 whether or not the conversation exists.
 */
import { randomUUID } from 'node:crypto';
import type { Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ParleyError, type Command } from '../../protocol/index.js';
import { CommandResult, Params, Queries, Requests, Responses } from '../../protocol/schema/index.js';
import { conversationsOf, isMember, membersOf, presenceOf, readMessages, searchMessages } from '../../projections/index.js';
import type { Gateway } from './gateway.js';

const error = { $ref: 'Error#' } as const;
/** Every error a route can answer, in the shared error shape. */
export const errorResponses = { 400: error, 401: error, 403: error, 404: error, 409: error, 413: error, 422: error, 429: error, 500: error, 503: error };
const commandAnswer = { 200: CommandResult, ...errorResponses };

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

  app.post<{ Body: Static<typeof Requests.createConversation> }>(
    '/v1/conversations',
    {
      schema: {
        summary: 'Create a conversation; the caller becomes a member',
        body: Requests.createConversation,
        response: { 201: Responses.created, 200: Responses.created, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { title, members } = request.body;
      const o = await run(request, { type: 'CreateConversation', title, members }, commandIdOf(request, request.body));
      return reply.code(o.duplicate ? 200 : 201).send({ id: o.result.conversationId, seq: o.result.seq });
    },
  );

  app.get(
    '/v1/conversations',
    { schema: { summary: "The caller's conversations with last message and unread count", response: { 200: Responses.conversations, ...errorResponses } } },
    async (request) => {
      await gw.consistentReads();
      return { conversations: conversationsOf(gw.readModels, request.user.sub) };
    },
  );

  app.post<{ Params: Static<typeof Params.conversation>; Body: Static<typeof Requests.addMember> }>(
    '/v1/conversations/:id/members',
    { schema: { summary: 'Add a member (invite)', params: Params.conversation, body: Requests.addMember, response: commandAnswer } },
    async (request) => {
      const cmd: Command = { type: 'AddMember', conversationId: request.params.id, userId: request.body.userId };
      return (await run(request, cmd, commandIdOf(request, request.body))).result;
    },
  );

  app.delete<{ Params: Static<typeof Params.member> }>(
    '/v1/conversations/:id/members/:userId',
    { schema: { summary: 'Remove a member; anyone may remove themselves (leave), the creator anyone', params: Params.member, response: commandAnswer } },
    async (request) => {
      const cmd: Command = { type: 'RemoveMember', conversationId: request.params.id, userId: request.params.userId };
      return (await run(request, cmd, commandIdOf(request))).result;
    },
  );

  app.post<{ Params: Static<typeof Params.conversation>; Body: Static<typeof Requests.postMessage> }>(
    '/v1/conversations/:id/messages',
    {
      schema: {
        summary: 'Post a message; re-sending a clientMessageId returns the original result (200) and appends nothing',
        params: Params.conversation,
        body: Requests.postMessage,
        response: { 201: CommandResult, ...commandAnswer },
      },
    },
    async (request, reply) => {
      const { clientMessageId, text, format } = request.body;
      const command: Command = { type: 'PostMessage', conversationId: request.params.id, text, ...(format && { format }) };
      const o = await run(request, command, clientMessageId);
      return reply.code(o.duplicate ? 200 : 201).send(o.result);
    },
  );

  app.get<{ Params: Static<typeof Params.conversation>; Querystring: Static<typeof Queries.messages> }>(
    '/v1/conversations/:id/messages',
    {
      schema: {
        summary: 'Messages in seq order: after a seq (forwards, default after=0) or before a seq (the page before it)',
        params: Params.conversation,
        querystring: Queries.messages,
        response: { 200: Responses.messages, ...errorResponses },
      },
    },
    async (request) => {
      await requireMember(request, request.params.id);
      const { after, before, limit } = request.query;
      if (after !== undefined && before !== undefined) throw new ParleyError('invalid_request', 'Use either after or before, not both');
      return { messages: readMessages(gw.readModels, request.params.id, { after, before, limit }) };
    },
  );

  app.delete<{ Params: Static<typeof Params.message> }>(
    '/v1/conversations/:id/messages/:messageId',
    { schema: { summary: 'Delete a message (its author only)', params: Params.message, response: commandAnswer } },
    async (request) => {
      const cmd: Command = { type: 'DeleteMessage', conversationId: request.params.id, messageId: request.params.messageId };
      return (await run(request, cmd, commandIdOf(request))).result;
    },
  );

  app.post<{ Params: Static<typeof Params.message>; Body: Static<typeof Requests.reaction> }>(
    '/v1/conversations/:id/messages/:messageId/reactions',
    { schema: { summary: 'React to a message', params: Params.message, body: Requests.reaction, response: commandAnswer } },
    async (request) => {
      const { id, messageId } = request.params;
      const cmd: Command = { type: 'AddReaction', conversationId: id, messageId, emoji: request.body.emoji };
      return (await run(request, cmd, commandIdOf(request, request.body))).result;
    },
  );

  app.delete<{ Params: Static<typeof Params.reaction> }>(
    '/v1/conversations/:id/messages/:messageId/reactions/:emoji',
    { schema: { summary: 'Remove your reaction', params: Params.reaction, response: commandAnswer } },
    async (request) => {
      const { id, messageId, emoji } = request.params;
      if (emoji.length > 64) throw new ParleyError('invalid_request', 'emoji is too long');
      const cmd: Command = { type: 'RemoveReaction', conversationId: id, messageId, emoji };
      return (await run(request, cmd, commandIdOf(request))).result;
    },
  );

  app.post<{ Params: Static<typeof Params.conversation>; Body: Static<typeof Requests.markRead> }>(
    '/v1/conversations/:id/read',
    { schema: { summary: 'Set your read marker to a seq', params: Params.conversation, body: Requests.markRead, response: commandAnswer } },
    async (request) => {
      const cmd: Command = { type: 'MarkRead', conversationId: request.params.id, seq: request.body.seq };
      return (await run(request, cmd, commandIdOf(request, request.body))).result;
    },
  );

  app.get<{ Params: Static<typeof Params.conversation> }>(
    '/v1/conversations/:id/presence',
    {
      schema: {
        summary: 'Members online now, and when the others were last seen',
        params: Params.conversation,
        response: { 200: Responses.presence, ...errorResponses },
      },
    },
    async (request) => {
      await requireMember(request, request.params.id);
      return { members: presenceOf(gw.readModels, membersOf(gw.readModels, request.params.id)) };
    },
  );

  app.get<{ Querystring: Static<typeof Queries.search> }>(
    '/v1/search',
    {
      schema: {
        summary: "Full-text search over the messages of the caller's conversations, newest first",
        querystring: Queries.search,
        response: { 200: Responses.search, ...errorResponses },
      },
    },
    async (request) => {
      await gw.consistentReads();
      const { q, conversation, limit } = request.query;
      return { hits: searchMessages(gw.readModels, request.user.sub, q, { conversationId: conversation, limit }) };
    },
  );
}
