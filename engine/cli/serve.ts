import { parseArgs } from 'node:util';
import { startNode } from '../node/index.js';

const HELP = `usage: parley serve [--port N] [--host H] [--data-dir DIR] [--nats URL[,URL…]] [--stream NAME] [--replicas N]

Runs one node. Without NATS the log is the embedded SQLite store in DATA_DIR; with
--nats (or NATS_URL) the log is a JetStream stream shared with the other nodes of a
cluster, and DATA_DIR holds only this node's read models and id. Environment:
  PORT (8080), HOST (0.0.0.0), DATA_DIR (./data), PARLEY_JWT_SECRET, NODE_ENV,
  PARLEY_MAX_TEXT_BYTES (16384), PARLEY_RATE_PER_CONNECTION (50), PARLEY_RATE_PER_USER (100),
  PARLEY_CATCH_UP_LIMIT (50000), LOG_LEVEL (info)
Cluster (with NATS_URL):
  PARLEY_STREAM (PARLEY_EVENTS), PARLEY_REPLICAS (1; 3 in a 3-server NATS cluster),
  PARLEY_NATS_RETRY_BUDGET_MS (15000), PARLEY_HEARTBEAT_SECONDS (5),
  PARLEY_PRESENCE_EXPIRY_SECONDS (15, at most 30)
`;

export async function serve(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'data-dir': { type: 'string' },
      nats: { type: 'string' },
      stream: { type: 'string' },
      replicas: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) return void process.stdout.write(HELP);
  const node = await startNode({
    ...(values.port !== undefined && { port: Number(values.port) }),
    ...(values.host !== undefined && { host: values.host }),
    ...(values['data-dir'] !== undefined && { dataDir: values['data-dir'] }),
    ...(values.nats !== undefined && { natsUrls: values.nats.split(',').map((u) => u.trim()).filter(Boolean) }),
    ...(values.stream !== undefined && { streamName: values.stream }),
    ...(values.replicas !== undefined && { replicas: Number(values.replicas) }),
  }).catch((err) => {
    // A node that failed half-way may hold a NATS connection that would keep the process
    // alive: exit once the error has been reported.
    setTimeout(() => process.exit(1), 200).unref();
    throw err;
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
