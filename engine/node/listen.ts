/** Start-up: bind the HTTP port. A failure is a StartupError naming the address and the setting. */
import type { FastifyInstance } from 'fastify';
import { StartupError, type NodeConfig } from './config/index.js';

/** Listens on HOST:PORT; resolves with the port bound (PORT=0 picks one) and a URL to reach the node at. */
export async function listen(app: FastifyInstance, config: NodeConfig): Promise<{ url: string; port: number }> {
  await app.listen({ port: config.port, host: config.host }).catch((err: unknown) => {
    throw listenStartupError(config, err);
  });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  return { url: `${config.tls ? 'https' : 'http'}://${host}:${port}`, port };
}

/** The HTTP port could not be bound: name the address and the setting. */
function listenStartupError(config: NodeConfig, err: unknown): Error {
  const code = (err as { code?: string }).code;
  const address = `${config.host}:${config.port}`;
  const reason =
    code === 'EADDRINUSE'
      ? `port ${config.port} is already in use; choose a free port with PORT / --port, or stop what holds it`
      : code === 'EACCES'
        ? `not allowed to bind port ${config.port}; choose a port above 1023 with PORT / --port`
        : code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND'
          ? `${config.host} is not an address of this machine; check HOST / --host`
          : `${(err as Error).message}; check PORT / --port and HOST / --host`;
  return new StartupError(`cannot listen on ${address}: ${reason}`, { cause: err });
}
