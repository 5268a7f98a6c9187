import { parseArgs } from 'node:util';
import { startNode } from '../node/index.js';

const HELP = `usage: parley serve [--port N] [--host H] [--data-dir DIR]

Runs one node with the embedded SQLite store in DATA_DIR. Environment:
  PORT (8080), HOST (0.0.0.0), DATA_DIR (./data), PARLEY_JWT_SECRET, NODE_ENV,
  PARLEY_MAX_TEXT_BYTES (16384), PARLEY_RATE_PER_CONNECTION (50), PARLEY_RATE_PER_USER (100),
  PARLEY_CATCH_UP_LIMIT (50000), LOG_LEVEL (info)
`;

export async function serve(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { port: { type: 'string' }, host: { type: 'string' }, 'data-dir': { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help) return void process.stdout.write(HELP);
  const node = await startNode({
    ...(values.port !== undefined && { port: Number(values.port) }),
    ...(values.host !== undefined && { host: values.host }),
    ...(values['data-dir'] !== undefined && { dataDir: values['data-dir'] }),
  });
  const stop = (signal: string) => {
    node.app.log.info({ signal }, 'shutting down');
    node.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}
