/**
 * `parley serve`: one node in this process. A start-up failure is one line on stderr
 * (what failed, the setting, what to do) and exit code 1; the stack only with
 * LOG_LEVEL=debug. Started by `parley cluster`, the node also watches a pipe from the
 * launcher (PARLEY_PARENT_FD) and stops when it closes, so it never outlives the launcher,
 * not even one killed with SIGKILL.
 */
import { Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { startNode, type ParleyNode } from '../node/index.js';

const HELP = `usage: parley serve [--port N] [--host H] [--data-dir DIR] [--nats URL[,URL…]] [--stream NAME] [--replicas N]

Runs one node. Without NATS the log is the embedded SQLite store in DATA_DIR; with
--nats (or NATS_URL) the log is a JetStream stream shared with the other nodes of a
cluster, and DATA_DIR holds only this node's read models and id. Environment:
  PORT (8080), HOST (0.0.0.0), DATA_DIR (./data), PARLEY_JWT_SECRET, NODE_ENV,
  PARLEY_MAX_TEXT_BYTES (16384), PARLEY_RATE_PER_CONNECTION (50), PARLEY_RATE_PER_USER (100),
  PARLEY_RATE_READS_PER_USER (200), PARLEY_CATCH_UP_LIMIT (50000), LOG_LEVEL (info)
TLS (SIGHUP re-reads the certificate):
  PARLEY_TLS_CERT, PARLEY_TLS_KEY (PEM files: serve HTTPS and WSS),
  PARLEY_TLS_TERMINATED_BY_PROXY (1: a proxy in front terminates TLS; NODE_ENV=production needs one of the two)
Tokens from your identity provider (instead of PARLEY_JWT_SECRET's HS256):
  PARLEY_JWKS_URL or PARLEY_JWT_PUBLIC_KEY_FILE, PARLEY_JWT_ISSUER, PARLEY_JWT_AUDIENCE,
  PARLEY_JWT_ALGORITHMS, PARLEY_JWT_USER_CLAIM (sub), PARLEY_JWT_ADMIN_CLAIM (role),
  PARLEY_JWT_ADMIN_VALUE (admin), PARLEY_JWT_CLOCK_TOLERANCE_SECONDS (30)
Behind a load balancer:
  PARLEY_READY_MAX_LAG (10000), PARLEY_DRAIN_SECONDS (5), PARLEY_METRICS_TOKEN (unset: /metrics off)
Cluster (with NATS_URL):
  PARLEY_STREAM (PARLEY_EVENTS), PARLEY_REPLICAS (1; 3 in a 3-server NATS cluster),
  PARLEY_NATS_RETRY_BUDGET_MS (15000), PARLEY_HEARTBEAT_SECONDS (5),
  PARLEY_PRESENCE_EXPIRY_SECONDS (15, at most 30),
  PARLEY_NATS_TLS_CA, PARLEY_NATS_TLS_CERT, PARLEY_NATS_TLS_KEY (PEM files; NODE_ENV=production
  refuses plain NATS to another host unless PARLEY_NATS_ALLOW_PLAIN=1),
  one of PARLEY_NATS_USER + PARLEY_NATS_PASSWORD, PARLEY_NATS_TOKEN,
  PARLEY_NATS_NKEY (nkey seed file), PARLEY_NATS_CREDS (.creds file)
Start-up failures print one line naming the setting to fix; LOG_LEVEL=debug adds the stack.
`;

/** How long a stop may take, past the drain (PARLEY_DRAIN_SECONDS), before the process exits anyway. */
const STOP_GRACE_MS = 15_000;

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
  let node: ParleyNode | undefined;
  let stopRequested: string | undefined;
  let stopping = false;
  const stop = (reason: string) => {
    // Still starting: stop as soon as the node is up (its listening line may already be out).
    if (!node) {
      stopRequested ??= reason;
      setTimeout(() => process.exit(1), STOP_GRACE_MS).unref(); // a start that hangs must not hold a stop
      return;
    }
    if (stopping) return;
    stopping = true;
    node.app.log.info({ signal: reason, drainSeconds: node.config.drainSeconds }, 'shutting down: draining');
    setTimeout(() => process.exit(1), STOP_GRACE_MS + node.config.drainSeconds * 1000).unref();
    node.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  watchParent(() => stop('launcher gone'));
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  // SIGHUP re-reads the TLS certificate (a renewal); its default action would end the
  // process. One that comes while starting is done once the node is up (the files may
  // have changed after start-up read them).
  let reloadRequested = false;
  process.on('SIGHUP', () => {
    if (node) node.reloadTls();
    else reloadRequested = true;
  });
  node = await startNode({
    ...(values.port !== undefined && { port: Number(values.port) }),
    ...(values.host !== undefined && { host: values.host }),
    ...(values['data-dir'] !== undefined && { dataDir: values['data-dir'] }),
    ...(values.nats !== undefined && { natsUrls: values.nats.split(',').map((u) => u.trim()).filter(Boolean) }),
    ...(values.stream !== undefined && { streamName: values.stream }),
    ...(values.replicas !== undefined && { replicas: Number(values.replicas) }),
  }).catch((err: Error) => {
    if (/^(debug|trace)$/.test(process.env.LOG_LEVEL ?? '')) process.stderr.write(`${err.stack}\n`);
    // A node that failed half-way may hold a NATS connection that would keep the process
    // alive: exit once the error has been reported.
    setTimeout(() => process.exit(1), 200).unref();
    throw err;
  });
  if (stopRequested) stop(stopRequested);
  else if (reloadRequested) node.reloadTls();
}

/**
 * PARLEY_PARENT_FD names an inherited pipe whose other end the launcher holds; the kernel
 * closes it when the launcher exits however it exits, and then this node stops.
 */
function watchParent(onGone: () => void): void {
  const fd = Number(process.env.PARLEY_PARENT_FD);
  if (!Number.isInteger(fd) || fd < 3) return;
  const pipe = new Socket({ fd, readable: true, writable: false });
  pipe.on('data', () => undefined);
  pipe.once('end', onGone);
  pipe.once('close', onGone);
  pipe.once('error', onGone);
  pipe.unref();
}
