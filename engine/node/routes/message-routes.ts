/** Writes to a conversation's messages: post, delete, react, and move the caller's read marker. */
import type { Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { ParleyError, type Command } from '../../../protocol/index.js';
import { CommandResult, Params, Requests } from '../../../protocol/schema/index.js';
import { errorResponses } from './responses.js';
import { commandIdOf, runCommand, type CommandRunner } from './run-command.js';

export interface MessageRoutesDeps {
  readonly commands: CommandRunner;
}

const commandAnswer = { 200: CommandResult, ...errorResponses };

export const messageRoutes: FastifyPluginAsync<MessageRoutesDeps> = async (app, { commands }) => {
  app.addHook('onRequest', app.authenticate);

  app.post<{ Params: Static<typeof Params.conversation>; Body: Static<typeof Requests.postMessage> }>(
    '/v1/conversations/:id/messages',
    {
      schema: {
        summary: 'Post a message (with threadRootId: a reply in that thread); re-sending a clientMessageId returns the original result (200) and appends nothing',
        params: Params.conversation,
        body: Requests.postMessage,
        response: { 201: CommandResult, ...commandAnswer },
      },
    },
    async (request, reply) => {
      const { clientMessageId, text, format, threadRootId, attachments } = request.body;
      const command: Command = {
        type: 'PostMessage',
        conversationId: request.params.id,
        text,
        ...(format && { format }),
        ...(threadRootId !== undefined && { threadRootId }),
        ...(attachments && { attachments }),
      };
      const o = await runCommand(commands, request, command, clientMessageId);
      return reply.code(o.duplicate ? 200 : 201).send(o.result);
    },
  );

  app.delete<{ Params: Static<typeof Params.message> }>(
    '/v1/conversations/:id/messages/:messageId',
    { schema: { summary: 'Delete a message (its author only)', params: Params.message, response: commandAnswer } },
    async (request) => {
      const cmd: Command = { type: 'DeleteMessage', conversationId: request.params.id, messageId: request.params.messageId };
      return (await runCommand(commands, request, cmd, commandIdOf(request))).result;
    },
  );

  app.post<{ Params: Static<typeof Params.message>; Body: Static<typeof Requests.reaction> }>(
    '/v1/conversations/:id/messages/:messageId/reactions',
    { schema: { summary: 'React to a message', params: Params.message, body: Requests.reaction, response: commandAnswer } },
    async (request) => {
      const { id, messageId } = request.params;
      const cmd: Command = { type: 'AddReaction', conversationId: id, messageId, emoji: request.body.emoji };
      return (await runCommand(commands, request, cmd, commandIdOf(request, request.body))).result;
    },
  );

  app.delete<{ Params: Static<typeof Params.reaction> }>(
    '/v1/conversations/:id/messages/:messageId/reactions/:emoji',
    { schema: { summary: 'Remove your reaction', params: Params.reaction, response: commandAnswer } },
    async (request) => {
      const { id, messageId, emoji } = request.params;
      if (emoji.length > 64) throw new ParleyError('invalid_request', 'emoji is too long');
      const cmd: Command = { type: 'RemoveReaction', conversationId: id, messageId, emoji };
      return (await runCommand(commands, request, cmd, commandIdOf(request))).result;
    },
  );

  app.post<{ Params: Static<typeof Params.conversation>; Body: Static<typeof Requests.markRead> }>(
    '/v1/conversations/:id/read',
    { schema: { summary: 'Set your read marker to a seq', params: Params.conversation, body: Requests.markRead, response: commandAnswer } },
    async (request) => {
      const cmd: Command = { type: 'MarkRead', conversationId: request.params.id, seq: request.body.seq };
      return (await runCommand(commands, request, cmd, commandIdOf(request, request.body))).result;
    },
  );
};
