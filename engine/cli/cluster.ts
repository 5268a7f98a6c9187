/**
 * `parley cluster`: a local cluster to try Parley with — a 3-server NATS JetStream
 * cluster and N nodes on consecutive ports (replicas 3). Ctrl-C / SIGTERM stops all; if
 * the launcher is killed outright its children stop by themselves (local-cluster.ts).
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startLocalCluster } from '../cluster/index.js';

const HELP = `usage: parley cluster [--nodes 3] [--base-port 8080] [--nats-base-port P] [--nats-sync always|default|DURATION] [--data-dir DIR]

Starts a 3-server NATS JetStream cluster (nats-server from NATS_SERVER_BIN or PATH, each
with its store under DIR/nats-<i>) and N Parley nodes on ports base-port, base-port+1, …
(read models under DIR/node-<i>), all sharing one JetStream stream with 3 replicas.
Prints the nodes' URLs; Ctrl-C or SIGTERM stops everything, and if the launcher is
killed (even with SIGKILL) every process it started stops too. DIR defaults to
DATA_DIR/cluster (./data/cluster). Tokens for every node: parley token <user> --data-dir DIR
  --nats-base-port P  NATS servers on P..P+2 (clients), P+3..P+5 (routes), P+6..P+8
                      (monitoring); default: free ports
  --nats-sync V       JetStream sync_interval: always (default: fsync before each ack, on
                      nats-server 2.10+), default (the server's 2 min), or e.g. 10s
`;

export async function cluster(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      nodes: { type: 'string', default: '3' },
      'base-port': { type: 'string', default: process.env.PORT ?? '8080' },
      'nats-base-port': { type: 'string' },
      'nats-sync': { type: 'string', default: 'always' },
      'data-dir': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) return void process.stdout.write(HELP);
  const nodes = Number(values.nodes);
  const basePort = Number(values['base-port']);
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 32) throw usage('--nodes must be an integer from 1 to 32');
  if (!Number.isInteger(basePort) || basePort < 1 || basePort + nodes - 1 > 65535) throw usage('--base-port must be a free TCP port');
  const natsBasePort = values['nats-base-port'] === undefined ? undefined : Number(values['nats-base-port']);
  if (natsBasePort !== undefined && (!Number.isInteger(natsBasePort) || natsBasePort < 1 || natsBasePort + 8 > 65535)) {
    throw usage('--nats-base-port must be a TCP port with the 8 after it free too');
  }
  if (!/^(always|default|\d+(ms|s|m|h))$/.test(values['nats-sync']!)) throw usage('--nats-sync must be always, default or a duration such as 10s');
  const dataDir = resolve(values['data-dir'] ?? join(process.env.DATA_DIR ?? './data', 'cluster'));

  process.stdout.write(`starting 3 NATS servers and ${nodes} Parley nodes in ${dataDir} …\n`);
  let stopping: Promise<void> | undefined;
  const running = await startLocalCluster({
    nodes,
    basePort,
    dataDir,
    ...(natsBasePort !== undefined && { natsBasePort }),
    natsSync: values['nats-sync'],
    onUnexpectedExit: (what, code) => process.stderr.write(`${what} exited (${code}); the others keep running\n`),
  });
  const { version, sync, note } = running.natsServer;
  process.stdout.write(`nats-server ${version}, sync_interval ${sync === 'default' ? "the server's default" : sync}\n`);
  if (note) process.stderr.write(`warning: ${note}\n`);
  for (const s of running.nats) process.stdout.write(`nats  ${s.name.padEnd(8)} ${s.url}  pid ${s.pid}  log ${s.log}\n`);
  for (const n of running.nodes) process.stdout.write(`node  ${n.name.padEnd(8)} ${n.url}  pid ${n.pid}  log ${n.log}\n`);
  process.stdout.write(
    `parley cluster ready: ${running.nodes.map((n) => n.url).join(' ')}\n` +
      `token: npx parley token alice --data-dir ${dataDir}\n` +
      `Ctrl-C stops the cluster.\n`,
  );
  const stop = (signal: string) => {
    stopping ??= (async () => {
      process.stdout.write(`${signal}: stopping the nodes, then NATS …\n`);
      await running.stop();
      process.stdout.write('parley cluster stopped\n');
      process.exit(0);
    })();
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => stop(signal));
}

function usage(message: string): Error {
  return Object.assign(new Error(message), { code: 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' });
}
