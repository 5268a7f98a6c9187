/**
 * Every authenticated HTTP request takes from its user's budget (UserLimits): writes from
 * the one their sockets' frames take from too, reads from their own. A refusal is a 429
 * `rate_limited` with Retry-After, the whole seconds until a token is back.
 *
 * The hook is preParsing: it runs after every onRequest hook, wherever authentication is
 * registered, so `request.user` is known; and before the body is read, so a client over
 * its budget costs no parsing. Requests without a user (public routes, the WebSocket
 * upgrades, which take from the budget per socket and per frame) are not counted here.
 */
import type { FastifyInstance } from 'fastify';
import { ParleyError } from '../../protocol/index.js';
import type { UserLimits } from './user-limits.js';

export function limitRequests(app: FastifyInstance, users: Pick<UserLimits, 'takeRequest'>): void {
  app.addHook('preParsing', async (request, reply) => {
    if (!request.user) return;
    const wait = users.takeRequest(request.user.sub, request.method === 'GET' || request.method === 'HEAD');
    if (wait === 0) return;
    reply.header('retry-after', String(wait));
    throw new ParleyError('rate_limited');
  });
}
