/**
 * Development sign-in: `POST /v1/dev/token {userId}` mints a token for any name, so the
 * web app can be tried with nothing but a name. Registered only when `config.devLogin`
 * is on (a node-made development secret, or PARLEY_DEV_LOGIN=on; never in production):
 * otherwise the path does not exist (404), which is also how the page learns it is off.
 */
import type { FastifyPluginAsync } from 'fastify';
import { ParleyError } from '../../../protocol/index.js';
import { isUserId, signToken } from '../auth/index.js';
import { errorResponses } from './responses.js';

export interface DevRoutesDeps {
  readonly jwtSecret: string;
}

/** Long enough for a demo afternoon; the page asks for a new one before it ends. */
const DEV_TOKEN_TTL_SECONDS = 12 * 3600;

export const devRoutes: FastifyPluginAsync<DevRoutesDeps> = async (app, { jwtSecret }) => {
  app.post<{ Body: { userId: string } }>(
    '/v1/dev/token',
    {
      schema: {
        summary: 'Development only: a token for any user id (on with a generated secret or PARLEY_DEV_LOGIN=on)',
        security: [],
        body: { type: 'object', required: ['userId'], additionalProperties: false, properties: { userId: { type: 'string', minLength: 1, maxLength: 200 } } },
        response: { 200: { type: 'object', required: ['token', 'userId', 'expiresIn'], properties: { token: { type: 'string' }, userId: { type: 'string' }, expiresIn: { type: 'integer' } } }, ...errorResponses },
      },
    },
    async (request) => {
      const { userId } = request.body;
      // The token check's own rule for user ids (control characters, lone surrogates).
      if (!isUserId(userId)) throw new ParleyError('invalid_request', 'userId is not a usable user id');
      const token = signToken(jwtSecret, { sub: userId, ttlSeconds: DEV_TOKEN_TTL_SECONDS });
      request.log.info({ userId }, 'development token issued');
      return { token, userId, expiresIn: DEV_TOKEN_TTL_SECONDS };
    },
  );
};
