/**
 * The Fastify app and what every route shares: bearer-token auth on every route but the
 * public ones, one error shape for everything (codes from protocol/errors.ts), the
 * nosniff header, CORS, request ids, body validation, the OpenAPI collector and the
 * WebSocket plugin. All of it is on the root instance, so the route plugins (routes/)
 * inherit it; the routes themselves are registered by the node.
 */
import swagger from '@fastify/swagger';
import { Ajv } from 'ajv';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { SecureContextOptions } from 'node:tls';
import { ParleyError, isParleyError } from '../../protocol/index.js';
import { ErrorBody } from '../../protocol/schema/index.js';
import type { NodeConfig } from './config/index.js';
import { registerCors } from './cors.js';
import { KeyedBuckets } from './rate-limit.js';
import { verifyToken, type TokenClaims } from './config/index.js';
import { WEB_PUBLIC_PREFIXES, WEB_PUBLIC_ROUTES } from './routes/index.js';

declare module 'fastify' {
  interface FastifyRequest {
    user: TokenClaims;
  }
}

/** A client-chosen request id the node adopts: what tracing systems send (UUIDs, hex, dotted spans). */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Routes that authenticate on their own (WebSockets: header, ?token= or a frame) or need none. */
const PUBLIC_ROUTES = new Set(['/health', '/v1/ws', '/v1/dev/token', ...WEB_PUBLIC_ROUTES]);
const PUBLIC_PREFIXES = ['/v1/sync/', ...WEB_PUBLIC_PREFIXES];

/** `https`: the certificate to serve HTTPS and WSS with (tls.ts); none: plain HTTP. */
export async function createHttpServer(config: NodeConfig, https?: SecureContextOptions): Promise<FastifyInstance> {
  const server = { requestTimeout: 30_000, connectionsCheckingInterval: 5_000 };
  const app = Fastify({
    logger: { level: config.logLevel },
    // Feeds stream for hours; on shutdown every remaining connection is cut (sockets were closed gracefully before).
    forceCloseConnections: true,
    bodyLimit: config.maxFrameBytes,
    // Fastify turns Node's request timeout off (0): a client, token or not, that sends its
    // headers and then a body one byte every few seconds held its connection for ever (a
    // 401 is answered but the body still read), so a trickle of them exhausts the node's
    // file descriptors. A request (≤ bodyLimit) must arrive within 30 s, checked every 5 s.
    // Node only enforces it when given to createServer (set afterwards, as Fastify's own
    // option is, it is ignored while headersTimeout is longer), hence `http` (and `https`) too.
    requestTimeout: 30_000,
    http: server,
    // A TLS handshake gets 10 s (Node's default is 120 s), as bodies get a bound: a
    // connection that never finishes one holds a file descriptor meanwhile.
    ...(https && { https: { ...https, ...server, handshakeTimeout: 10_000 } }),
    // The request id is the correlation id: on every log line of the request and in the
    // metadata of every event it appends, kept for ever. A client's X-Request-Id is taken
    // only when it looks like an id; a 12 KB one was stored with each event (past the text
    // bound) and logged on every line.
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : crypto.randomUUID();
    },
    // A URL the router cannot decode (`%zz`) or a path parameter over the router's length
    // limit is answered by Fastify before any hook: give it our error shape too.
    frameworkErrors: (err, _request, reply) => {
      reply.header('x-content-type-options', 'nosniff');
      const e = new ParleyError('invalid_request', err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'A path parameter is too long' : 'The URL is not valid');
      return (reply as FastifyReply).code(e.status).send(e.toBody());
    },
  }) as unknown as FastifyInstance;
  // Bodies are JSON and must have the right types as sent ("5" is not a number); only
  // query strings and path parameters, which are always text, are coerced.
  const strict = new Ajv({ coerceTypes: false, useDefaults: true, removeAdditional: false, strict: false });
  const coercing = new Ajv({ coerceTypes: 'array', useDefaults: true, removeAdditional: false, strict: false });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? strict : coercing).compile(schema));
  app.decorateRequest('user', null as unknown as TokenClaims);
  app.addSchema({ ...ErrorBody, $id: 'Error' });
  await app.register(swagger, {
    openapi: {
      info: { title: 'Parley', version: '1', description: 'Event-sourced chat engine. WebSocket protocol: PROTOCOL.md' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      security: [{ bearer: [] }],
    },
  });
  // A WebSocket route answers a plain HTTP request too (no Upgrade header); by default
  // with an empty 404. Give it a coded error like every other route: registered before
  // the plugin, this hook hands the route's handler to the plugin as its socket handler.
  app.addHook('onRoute', (route) => {
    const r = route as unknown as { websocket?: boolean; wsHandler?: unknown; handler: unknown };
    if (!r.websocket) return;
    r.wsHandler = r.handler;
    r.websocket = false;
    r.handler = async () => {
      throw new ParleyError('invalid_request', 'This route only takes WebSocket upgrades');
    };
  });
  await app.register(websocket, {
    // A client breaking the WebSocket protocol (oversized, unmasked, bad opcode: ws codes
    // WS_ERR_*) is the client's fault and must not let anyone fill the error log.
    errorHandler: (error, socket, request) => {
      const code = (error as { code?: unknown }).code;
      if (typeof code === 'string' && code.startsWith('WS_ERR_')) request.log.debug({ err: error }, 'websocket protocol violation');
      else request.log.error({ err: error }, 'websocket handler failed');
      socket.terminate();
    },
    options: {
      maxPayload: config.maxFrameBytes,
      // We check UTF-8 ourselves so a bad frame gets a coded error instead of a dropped connection.
      skipUTF8Validation: true,
      // Compression only when asked for (PARLEY_WS_DEFLATE): the negotiated parameters cost
      // ~0.57 KiB of heap per idle socket (three times what Parley itself keeps per socket
      // on top of ws), and on a LAN catch-up arrives sooner uncompressed. When on, only
      // frames over 1 KiB are compressed: ws applies the threshold only without context
      // takeover, and per-socket zlib contexts would cost ~220 KiB per connection and put
      // every small frame through the zlib threadpool.
      perMessageDeflate: config.wsDeflate && { threshold: 1024, serverNoContextTakeover: true, clientNoContextTakeover: true },
    },
  });

  // Every answer is JSON, NDJSON, an event stream or Prometheus text, never something a
  // browser should guess the type of (a message text rendered as HTML, say).
  // Set on the raw response, so streams that hijack the reply (the admin feed) carry it too.
  app.addHook('onRequest', async (_request, reply) => {
    reply.raw.setHeader('x-content-type-options', 'nosniff');
  });
  registerCors(app, config.corsOrigins);
  const httpBuckets = new KeyedBuckets(config.rateLimitPerUser);
  app.addHook('onRequest', async (request: FastifyRequest) => {
    const path = request.url.split('?')[0]!;
    if (PUBLIC_ROUTES.has(path) || PUBLIC_PREFIXES.some((p) => path.startsWith(p))) return;
    const header = request.headers.authorization;
    const claims = header?.startsWith('Bearer ') ? verifyToken(config.jwtSecret, header.slice(7)) : null;
    if (!claims) throw new ParleyError('unauthorized');
    request.user = claims;
    if (request.method !== 'GET' && !httpBuckets.take(claims.sub)) throw new ParleyError('rate_limited');
  });

  app.setErrorHandler((err: Error & { code?: string; statusCode?: number; validation?: unknown }, request, reply) => {
    let e: ParleyError;
    if (isParleyError(err)) e = err;
    else if (err.validation) e = new ParleyError('invalid_request', err.message);
    else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') e = new ParleyError('frame_too_large');
    else if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') e = new ParleyError('invalid_request', 'Send application/json');
    else if (err instanceof SyntaxError || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') e = new ParleyError('invalid_json');
    else if (err.statusCode && err.statusCode < 500) e = new ParleyError('invalid_request', err.message);
    else {
      request.log.error({ err }, 'request failed');
      e = new ParleyError('internal');
    }
    return reply.code(e.status).send(e.toBody());
  });
  app.setNotFoundHandler((_request, reply) => reply.code(404).send(new ParleyError('not_found').toBody()));
  return app;
}
