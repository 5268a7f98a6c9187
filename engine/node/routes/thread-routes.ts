/**
 * Threads and mentions over HTTP. A reply is a post with `threadRootId`
 * (POST /v1/conversations/:id/messages); here: a thread's replies page by page, follow and
 * unfollow, the caller's thread read marker, their followed threads, and their mentions.
 * Reads answer once the read models include this node's own writes.
 */
import type { Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { ParleyError, type Command } from '../../../protocol/index.js';
import { CommandResult, Params, ThreadParams, ThreadQueries, ThreadRequests, ThreadResponses } from '../../../protocol/schema/index.js';
import { mentionsOf, readThread, threadsOf } from '../../../projections/index.js';
import { requireMember, type ReadAccess } from './read-access.js';
import { errorResponses } from './responses.js';
import { commandIdOf, runCommand, type CommandRunner } from './run-command.js';

export interface ThreadRoutesDeps {
  readonly commands: CommandRunner;
  readonly reads: ReadAccess;
}

const commandAnswer = { 200: CommandResult, ...errorResponses };

export const threadRoutes: FastifyPluginAsync<ThreadRoutesDeps> = async (app, { commands, reads }) => {
  app.addHook('onRequest', app.authenticate);

  app.get<{ Params: Static<typeof ThreadParams>; Querystring: Static<typeof ThreadQueries.replies> }>(
    '/v1/conversations/:id/threads/:rootId/messages',
    {
      schema: {
        summary: "A thread's root and its replies in seq order: after a seq (forwards, default after=0) or before a seq",
        params: ThreadParams,
        querystring: ThreadQueries.replies,
        response: { 200: ThreadResponses.replies, ...errorResponses },
      },
    },
    async (request) => {
      const { id, rootId } = request.params;
      await requireMember(reads, request, id);
      const { after, before, limit } = request.query;
      if (after !== undefined && before !== undefined) throw new ParleyError('invalid_request', 'Use either after or before, not both');
      const page = readThread(reads.readModels, id, rootId, { after, before, limit });
      if (!page.root) throw new ParleyError('message_not_found');
      return page;
    },
  );

  app.put<{ Params: Static<typeof ThreadParams> }>(
    '/v1/conversations/:id/threads/:rootId/follow',
    { schema: { summary: 'Follow a thread (list it under GET /v1/threads)', params: ThreadParams, response: commandAnswer } },
    async (request) => {
      const cmd: Command = { type: 'FollowThread', conversationId: request.params.id, threadRootId: request.params.rootId };
      return (await runCommand(commands, request, cmd, commandIdOf(request))).result;
    },
  );

  app.delete<{ Params: Static<typeof ThreadParams> }>(
    '/v1/conversations/:id/threads/:rootId/follow',
    { schema: { summary: 'Unfollow a thread (replying to it follows it again)', params: ThreadParams, response: commandAnswer } },
    async (request) => {
      const cmd: Command = { type: 'UnfollowThread', conversationId: request.params.id, threadRootId: request.params.rootId };
      return (await runCommand(commands, request, cmd, commandIdOf(request))).result;
    },
  );

  app.post<{ Params: Static<typeof ThreadParams>; Body: Static<typeof ThreadRequests.markThreadRead> }>(
    '/v1/conversations/:id/threads/:rootId/read',
    { schema: { summary: "Set your read marker of a thread's replies to a seq", params: ThreadParams, body: ThreadRequests.markThreadRead, response: commandAnswer } },
    async (request) => {
      const { id, rootId } = request.params;
      const cmd: Command = { type: 'MarkThreadRead', conversationId: id, threadRootId: rootId, seq: request.body.seq };
      return (await runCommand(commands, request, cmd, commandIdOf(request, request.body))).result;
    },
  );

  app.get<{ Querystring: Static<typeof ThreadQueries.threads> }>(
    '/v1/threads',
    {
      schema: {
        summary: 'The threads you follow, most recent reply first, with their unread replies',
        querystring: ThreadQueries.threads,
        response: { 200: ThreadResponses.threads, ...errorResponses },
      },
    },
    async (request) => {
      await reads.consistentReads();
      return { threads: threadsOf(reads.readModels, request.user.sub, request.query.limit) };
    },
  );

  app.get<{ Querystring: Static<typeof ThreadQueries.mentions> }>(
    '/v1/mentions',
    {
      schema: {
        summary: 'Messages that mention you, newest first, and how many are unread',
        querystring: ThreadQueries.mentions,
        response: { 200: ThreadResponses.mentions, ...errorResponses },
      },
    },
    async (request) => {
      await reads.consistentReads();
      const { before, limit } = request.query;
      return mentionsOf(reads.readModels, request.user.sub, { before, limit });
    },
  );

  app.post<{ Params: Static<typeof Params.conversation>; Body: Static<typeof ThreadRequests.markMentionsRead> }>(
    '/v1/conversations/:id/mentions/read',
    { schema: { summary: 'Mark your mentions in a conversation read up to a seq', params: Params.conversation, body: ThreadRequests.markMentionsRead, response: commandAnswer } },
    async (request) => {
      const cmd: Command = { type: 'MarkMentionsRead', conversationId: request.params.id, seq: request.body.seq };
      return (await runCommand(commands, request, cmd, commandIdOf(request, request.body))).result;
    },
  );
};
