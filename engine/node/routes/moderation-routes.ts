/**
 * Roles and moderation over HTTP: change a member's role, mute, ban and unban, report and
 * pin messages, read a conversation's roles; and, for node admins, the moderation queue.
 * The decider decides who may (engine/domain/permissions.ts); routes only translate.
 */
import type { Static } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Command } from '../../../protocol/index.js';
import { ParleyError } from '../../../protocol/index.js';
import {
  CommandResult,
  ConversationReportsQuery,
  ModerationParams,
  Params,
  ModerationQueue,
  ModerationQueueQuery,
  ModerationRequests,
  ModerationView,
} from '../../../protocol/schema/index.js';
import { membersOf, moderationOf, moderationQueue, roleIn } from '../../../projections/index.js';
import { isAllowed } from '../../domain/index.js';
import { requireAdmin } from './admin-routes.js';
import { requireMember, type ReadAccess } from './read-access.js';
import { errorResponses } from './responses.js';
import { commandIdOf, runCommand, type CommandRunner } from './run-command.js';

export interface ModerationRoutesDeps {
  readonly commands: CommandRunner;
  readonly reads: ReadAccess;
}

const commandAnswer = { 200: CommandResult, ...errorResponses };
type Member = { Params: Static<typeof ModerationParams.member> };
type Message = { Params: Static<typeof ModerationParams.message> };

export const moderationRoutes: FastifyPluginAsync<ModerationRoutesDeps> = async (app, { commands, reads }) => {
  app.addHook('onRequest', app.authenticate);
  const run = async (request: FastifyRequest, command: Command, body?: { commandId?: string }) =>
    (await runCommand(commands, request, command, commandIdOf(request, body))).result;

  app.put<Member & { Body: Static<typeof ModerationRequests.setRole> }>(
    '/v1/conversations/:id/members/:userId/role',
    { schema: { summary: "Set a member's role (owner, admin, member, guest)", params: ModerationParams.member, body: ModerationRequests.setRole, response: commandAnswer } },
    (request) => run(request, { type: 'SetRole', conversationId: request.params.id, userId: request.params.userId, role: request.body.role }, request.body),
  );

  app.put<Member & { Body: Static<typeof ModerationRequests.mute> }>(
    '/v1/conversations/:id/members/:userId/mute',
    { schema: { summary: 'Mute a member until a time (ms since the epoch); a past time unmutes', params: ModerationParams.member, body: ModerationRequests.mute, response: commandAnswer } },
    (request) => run(request, { type: 'MuteMember', conversationId: request.params.id, userId: request.params.userId, until: request.body.until }, request.body),
  );

  app.put<Member>(
    '/v1/conversations/:id/bans/:userId',
    { schema: { summary: 'Ban a user: removed now, and not added again until unbanned', params: ModerationParams.member, response: commandAnswer } },
    (request) => run(request, { type: 'BanMember', conversationId: request.params.id, userId: request.params.userId }),
  );

  app.delete<Member>(
    '/v1/conversations/:id/bans/:userId',
    { schema: { summary: 'Unban a user', params: ModerationParams.member, response: commandAnswer } },
    (request) => run(request, { type: 'UnbanMember', conversationId: request.params.id, userId: request.params.userId }),
  );

  app.post<Message & { Body: Static<typeof ModerationRequests.report> }>(
    '/v1/conversations/:id/messages/:messageId/reports',
    { schema: { summary: "Report a message to the node's moderators", params: ModerationParams.message, body: ModerationRequests.report, response: commandAnswer } },
    (request) => run(request, { type: 'ReportMessage', conversationId: request.params.id, messageId: request.params.messageId, reason: request.body.reason }, request.body),
  );

  app.put<Message>(
    '/v1/conversations/:id/pins/:messageId',
    { schema: { summary: 'Pin a message', params: ModerationParams.message, response: commandAnswer } },
    (request) => run(request, { type: 'PinMessage', conversationId: request.params.id, messageId: request.params.messageId }),
  );

  app.delete<Message>(
    '/v1/conversations/:id/pins/:messageId',
    { schema: { summary: 'Unpin a message', params: ModerationParams.message, response: commandAnswer } },
    (request) => run(request, { type: 'UnpinMessage', conversationId: request.params.id, messageId: request.params.messageId }),
  );

  app.put<Message & { Body: Static<typeof ModerationRequests.resolve> }>(
    '/v1/conversations/:id/reports/:messageId/resolution',
    { schema: { summary: "Resolve or dismiss a message's open reports (owners and admins)", params: ModerationParams.message, body: ModerationRequests.resolve, response: commandAnswer } },
    (request) => run(request, { type: 'ResolveReport', conversationId: request.params.id, messageId: request.params.messageId, outcome: request.body.outcome }, request.body),
  );

  app.get<{ Params: Static<typeof Params.conversation>; Querystring: Static<typeof ConversationReportsQuery> }>(
    '/v1/conversations/:id/reports',
    { schema: { summary: "The conversation's reported messages, oldest first (owners and admins; open ones by default)", params: Params.conversation, querystring: ConversationReportsQuery, response: { 200: ModerationQueue, ...errorResponses } } },
    async (request) => {
      const conversationId = request.params.id;
      await requireMember(reads, request, conversationId);
      // As the decider would refuse ResolveReport: members are denied exactly as outsiders are.
      if (!isAllowed(roleIn(reads.readModels, conversationId, request.user.sub), 'resolveReports')) throw new ParleyError('forbidden');
      const { after, limit, status } = request.query;
      return moderationQueue(reads.readModels, { after, limit, conversationId, status: status ?? 'open' });
    },
  );

  app.get<{ Params: Static<typeof Params.conversation> }>(
    '/v1/conversations/:id/moderation',
    { schema: { summary: "Every member's role and mute, the bans and the pinned messages", params: Params.conversation, response: { 200: ModerationView, ...errorResponses } } },
    async (request) => {
      await requireMember(reads, request, request.params.id);
      return moderationOf(reads.readModels, request.params.id, membersOf(reads.readModels, request.params.id));
    },
  );
};

/** The node's moderation queue: admin tokens only (the hook covers this plugin alone). */
export const moderationAdminRoutes: FastifyPluginAsync<{ readonly reads: ReadAccess }> = async (app, { reads }) => {
  app.addHook('onRequest', app.authenticate);
  app.addHook('onRequest', requireAdmin);

  app.get<{ Querystring: Static<typeof ModerationQueueQuery> }>(
    '/v1/admin/moderation-queue',
    { schema: { summary: 'Reported messages, oldest first, page by page (after a log position)', querystring: ModerationQueueQuery, response: { 200: ModerationQueue, ...errorResponses } } },
    async (request) => {
      await reads.consistentReads();
      const { after, limit, conversation, status } = request.query;
      return moderationQueue(reads.readModels, { after, limit, conversationId: conversation, status });
    },
  );
};
