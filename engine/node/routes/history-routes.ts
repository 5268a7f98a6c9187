/**
 * Reads of what happened: a conversation's messages page by page, who of its members is
 * online, and full-text search over the caller's conversations. Each answers from the
 * read models once they include this node's own writes.
 */
import type { Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { ParleyError } from '../../../protocol/index.js';
import { Params, Queries, Responses } from '../../../protocol/schema/index.js';
import { membersOf, presenceOf, readMessages, searchMessages, withThreadSummaries } from '../../../projections/index.js';
import { requireMember, type ReadAccess } from './read-access.js';
import { errorResponses } from './responses.js';

export interface HistoryRoutesDeps {
  readonly reads: ReadAccess;
}

export const historyRoutes: FastifyPluginAsync<HistoryRoutesDeps> = async (app, { reads }) => {
  const { readModels } = reads;
  app.addHook('onRequest', app.authenticate);

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
      await requireMember(reads, request, request.params.id);
      const { after, before, limit } = request.query;
      if (after !== undefined && before !== undefined) throw new ParleyError('invalid_request', 'Use either after or before, not both');
      const messages = readMessages(readModels, request.params.id, { after, before, limit });
      return { messages: withThreadSummaries(readModels, request.params.id, messages) };
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
      await requireMember(reads, request, request.params.id);
      return { members: presenceOf(readModels, membersOf(readModels, request.params.id)) };
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
      await reads.consistentReads();
      const { q, conversation, limit } = request.query;
      return { hits: searchMessages(readModels, request.user.sub, q, { conversationId: conversation, limit }) };
    },
  );
};
