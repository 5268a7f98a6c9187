/** Conversations and their members: create, list the caller's, invite, remove (or leave). */
import type { Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { Command } from '../../../protocol/index.js';
import { CommandResult, Params, Requests, Responses } from '../../../protocol/schema/index.js';
import { conversationsOf } from '../../../projections/index.js';
import type { ReadAccess } from './read-access.js';
import { errorResponses } from './responses.js';
import { commandIdOf, runCommand, type CommandRunner } from './run-command.js';

export interface ConversationRoutesDeps {
  readonly commands: CommandRunner;
  readonly reads: ReadAccess;
}

const commandAnswer = { 200: CommandResult, ...errorResponses };

export const conversationRoutes: FastifyPluginAsync<ConversationRoutesDeps> = async (app, { commands, reads }) => {
  app.addHook('onRequest', app.authenticate);

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
      const o = await runCommand(commands, request, { type: 'CreateConversation', title, members }, commandIdOf(request, request.body));
      return reply.code(o.duplicate ? 200 : 201).send({ id: o.result.conversationId, seq: o.result.seq });
    },
  );

  app.get(
    '/v1/conversations',
    { schema: { summary: "The caller's conversations with last message and unread count", response: { 200: Responses.conversations, ...errorResponses } } },
    async (request) => {
      await reads.consistentReads();
      return { conversations: conversationsOf(reads.readModels, request.user.sub) };
    },
  );

  app.post<{ Params: Static<typeof Params.conversation>; Body: Static<typeof Requests.addMember> }>(
    '/v1/conversations/:id/members',
    { schema: { summary: 'Add a member (invite)', params: Params.conversation, body: Requests.addMember, response: commandAnswer } },
    async (request) => {
      const cmd: Command = { type: 'AddMember', conversationId: request.params.id, userId: request.body.userId };
      return (await runCommand(commands, request, cmd, commandIdOf(request, request.body))).result;
    },
  );

  app.delete<{ Params: Static<typeof Params.member> }>(
    '/v1/conversations/:id/members/:userId',
    { schema: { summary: 'Remove a member; anyone may remove themselves (leave), the creator anyone', params: Params.member, response: commandAnswer } },
    async (request) => {
      const cmd: Command = { type: 'RemoveMember', conversationId: request.params.id, userId: request.params.userId };
      return (await runCommand(commands, request, cmd, commandIdOf(request))).result;
    },
  );
};
