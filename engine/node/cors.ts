/**
 * CORS for browser apps served from another origin (PARLEY_CORS_ORIGINS), by
 * @fastify/cors. Its hook runs on onRequest, registered before authentication, so
 * preflights are answered without a token (browsers send them without Authorization); an
 * origin not on the list gets no Access-Control-Allow-Origin, so the browser refuses the
 * response. WebSockets need none of this: browsers send no preflight for them.
 */
import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';

const ALLOW_HEADERS = ['authorization', 'content-type', 'idempotency-key', 'x-request-id', 'last-event-id'];
const ALLOW_METHODS = ['GET', 'POST', 'DELETE'];
/** Not CORS-safelisted, so a page could not read them otherwise: the id to quote, when to retry a 429. */
const EXPOSE_HEADERS = ['x-request-id', 'retry-after'];

export async function registerCors(app: FastifyInstance, origins: string[]): Promise<void> {
  if (origins.length === 0) return;
  await app.register(cors, {
    origin: origins.includes('*') ? '*' : origins,
    methods: ALLOW_METHODS,
    allowedHeaders: ALLOW_HEADERS,
    exposedHeaders: EXPOSE_HEADERS,
    maxAge: 600,
    // Strict mode answers an OPTIONS without Origin or Access-Control-Request-Method with a
    // text/plain 400, outside the node's error shape; such a request is no browser's, and
    // a 204 with the policy tells it nothing the policy does not tell anyone.
    strictPreflight: false,
  });
  if (!origins.includes('*')) keepOriginInVary(app);
}

/**
 * The answer depends on Origin, so caches must key on it. @fastify/cors adds it to Vary on
 * onRequest, merged with what is there; a handler that sets Vary later (`reply.header`
 * replaces) would drop it, so it is merged back in on the way out.
 */
function keepOriginInVary(app: FastifyInstance): void {
  app.addHook('onSend', async (_request, reply, payload) => {
    const vary = reply.getHeader('vary');
    const given = Array.isArray(vary) ? vary.join(', ') : vary === undefined ? '' : String(vary);
    const tokens = given.split(',').map((t) => t.trim().toLowerCase());
    if (!tokens.includes('origin') && !tokens.includes('*')) reply.header('vary', given.trim() ? `${given}, Origin` : 'Origin');
    return payload;
  });
}
