/**
 * CORS for browser apps served from another origin (PARLEY_CORS_ORIGINS). Preflights are
 * answered before authentication (browsers send them without the Authorization header);
 * an origin not on the list gets no CORS headers, so the browser refuses the response.
 * WebSockets need none of this: browsers send no preflight for them.
 */
import type { FastifyInstance } from 'fastify';

const ALLOW_HEADERS = 'authorization, content-type, idempotency-key, x-request-id, last-event-id';
const ALLOW_METHODS = 'GET, POST, DELETE';

export function registerCors(app: FastifyInstance, origins: string[]): void {
  if (origins.length === 0) return;
  const any = origins.includes('*');
  const allowed = new Set(origins);
  app.addHook('onRequest', async (request, reply) => {
    const origin = request.headers.origin;
    if (!origin || (!any && !allowed.has(origin))) return;
    reply.header('access-control-allow-origin', any ? '*' : origin);
    reply.header('vary', 'origin');
    reply.header('access-control-expose-headers', 'x-request-id');
    if (request.method === 'OPTIONS' && request.headers['access-control-request-method']) {
      reply.header('access-control-allow-methods', ALLOW_METHODS);
      reply.header('access-control-allow-headers', ALLOW_HEADERS);
      reply.header('access-control-max-age', '600');
      return reply.code(204).send();
    }
  });
}
