/**
 * Retention and erasure over HTTP: set a conversation's retention period (owners and
 * admins), erase the content of one's own message (its author). The decider decides who
 * may (engine/domain/retention.ts); routes only translate.
 */
import type { Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { CommandResult, Params, RetentionRequests } from '../../../protocol/schema/index.js';
import { errorResponses } from './responses.js';
import { commandIdOf, runCommand, type CommandRunner } from './run-command.js';

const commandAnswer = { 200: CommandResult, ...errorResponses };

export const retentionRoutes: FastifyPluginAsync<{ readonly commands: CommandRunner }> = async (app, { commands }) => {
  app.addHook('onRequest', app.authenticate);

  app.put<{ Params: Static<typeof Params.conversation>; Body: Static<typeof RetentionRequests.setRetention> }>(
    '/v1/conversations/:id/retention',
    {
      schema: {
        summary: "Set how long message content is kept (seconds; null keeps it forever); owners and admins",
        params: Params.conversation,
        body: RetentionRequests.setRetention,
        response: commandAnswer,
      },
    },
    async (request) => {
      const command = { type: 'SetRetention', conversationId: request.params.id, periodSeconds: request.body.periodSeconds } as const;
      return (await runCommand(commands, request, command, commandIdOf(request, request.body))).result;
    },
  );

  app.delete<{ Params: Static<typeof Params.message> }>(
    '/v1/conversations/:id/messages/:messageId/content',
    {
      schema: {
        summary: "Erase a message's content (its author only): the event stays, its text, edits, mentions and attachment refs are redacted everywhere",
        params: Params.message,
        response: commandAnswer,
      },
    },
    async (request) => {
      const command = { type: 'EraseMessage', conversationId: request.params.id, messageId: request.params.messageId } as const;
      return (await runCommand(commands, request, command, commandIdOf(request))).result;
    },
  );
};
