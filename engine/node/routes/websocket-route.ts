/** `/v1/ws`: the upgrade to the WebSocket protocol (PROTOCOL.md); the gateway takes the socket from there. */
import type { FastifyPluginAsync } from 'fastify';
import type { Gateway } from '../gateway.js';

export interface WebSocketRouteDeps {
  readonly gateway: Pick<Gateway, 'connect'>;
}

export const websocketRoute: FastifyPluginAsync<WebSocketRouteDeps> = async (app, { gateway }) => {
  // Authenticates on its own (header, ?token= or an auth frame), so adds no authenticate hook.
  app.get('/v1/ws', { websocket: true, schema: { hide: true } as object }, (socket, request) => gateway.connect(socket, request));
};
