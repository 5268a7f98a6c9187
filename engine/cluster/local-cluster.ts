/**
 * A cluster on one machine, for trying Parley out (`parley cluster`): a 3-server NATS
 * JetStream cluster and N Parley nodes on consecutive ports, all child processes.
 *
 * Layout under the data directory: `nats-<i>/` (server.conf, server.log, js/ store) per
 * NATS server, `node-<i>/` (read models, node id, parley.log) per node, and `jwt-secret`,
 * shared by every node so a token works on all of them (`parley token --data-dir DIR`).
 * Stopping stops the nodes first (they record their users going offline, which needs
 * NATS), then the NATS servers.
 *
 * No child outlives the launcher, however it ends (SIGKILL included): each child holds
 * one end of a pipe whose other end only the launcher holds (an extra stdio fd, 3), and
 * the kernel closes it when the launcher dies. A node watches it itself
 * (PARLEY_PARENT_FD, see cli/serve.ts); a nats-server cannot, so a few lines of sh run it,
 * watch the pipe and stop it (SIGTERM) when the pipe closes.
 *
 * Ports: nodes on basePort, basePort+1, …; NATS servers on natsBasePort + i (clients),
 * + count + i (routes), + 2·count + i (monitoring) when it is given, else on free ports.
 *
 * Durability of the NATS servers: by default JetStream fsyncs every 2 minutes, so a
 * whole-cluster crash can lose writes it had acknowledged (Jepsen, NATS 2.12). Servers
 * that know it (2.10+) get `sync_interval: always` unless told otherwise (`natsSync`).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { natsClusterFormed, natsLogFile, natsServerConfig, natsServerReady, type NatsServerSpec } from './nats-server.js';

/**
 * The nodes run the same code as this process: the compiled CLI next to this module in
 * dist/, or, run from source (tests, development), the TypeScript CLI through tsx.
 */
const PARLEY_BIN = fileURLToPath(
  import.meta.url.endsWith('.ts') ? new URL('../../bin/parley-dev.js', import.meta.url) : new URL('../cli/main.js', import.meta.url),
);
const READY_TIMEOUT_MS = 90_000;

export interface LocalClusterOptions {
  nodes: number;
  basePort: number;
  dataDir: string;
  /** The nats-server binary (default NATS_SERVER_BIN, else `nats-server` on PATH). */
  natsServerBin?: string;
  natsServers?: number;
  /** First of the 3·natsServers consecutive ports the NATS servers use; default: free ports. */
  natsBasePort?: number;
  /**
   * JetStream's `sync_interval`: 'always' (default: fsync before every ack, where the
   * server supports it, 2.10+), 'default' (the server's own, 2 min), or a duration ('10s').
   */
  natsSync?: string;
  /** Extra environment for the nodes (heartbeat knobs, log level, …). */
  nodeEnv?: Record<string, string>;
  /** Told when a child exits while the cluster is meant to run. */
  onUnexpectedExit?(what: string, code: number | string): void;
}

export interface LocalProcess {
  name: string;
  pid: number;
  /** nats://… for NATS servers, http://… for nodes. */
  url: string;
  log: string;
}

export interface LocalCluster {
  readonly nats: LocalProcess[];
  /** The nats-server version and the sync_interval it runs with ('default': none set). */
  readonly natsServer: { version: string; sync: string; note?: string };
  readonly nodes: LocalProcess[];
  readonly dataDir: string;
  /** Stops the nodes, then NATS; resolves when every child has exited. */
  stop(): Promise<void>;
}

interface Child {
  info: LocalProcess;
  process: ChildProcess;
  exited: Promise<void>;
  /** The nats-server under its sh watchdog (whose pid `process` has). */
  serverPid?: number;
}

/**
 * Runs nats-server ($1 -c $2, stderr appended to $3) and stops it when fd 3 — the pipe
 * from the launcher — reaches end-of-file, or when this shell gets SIGTERM. Prints the
 * server's pid first; exits with the server's status. The shell is the server's parent,
 * so it never signals a pid that is not its own child.
 */
const NATS_WATCHDOG = `
"$1" -c "$2" 3<&- </dev/null >/dev/null 2>>"$3" &
pid=$!
echo "nats-server pid $pid"
trap 'kill -TERM "$pid" 2>/dev/null' TERM INT HUP
{ read -r _ <&3; kill -TERM "$pid"; i=0; while kill -0 "$pid" && [ $i -lt 50 ]; do sleep 0.2; i=$((i+1)); done; kill -KILL "$pid"; } </dev/null >/dev/null 2>&1 &
watcher=$!
exec 3<&-
wait "$pid"; status=$?
while kill -0 "$pid" 2>/dev/null; do wait "$pid"; status=$?; done
kill "$watcher" 2>/dev/null
exit "$status"
`;

export async function startLocalCluster(o: LocalClusterOptions): Promise<LocalCluster> {
  const dataDir = resolve(o.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const secret = process.env.PARLEY_JWT_SECRET || sharedSecret(dataDir);
  const children: Child[] = [];
  let stopping = false;
  // Children run in their own process groups, so a Ctrl-C reaches only this process, which
  // stops them in order (nodes before NATS). If this process dies first, take them along.
  const killAll = () => {
    for (const c of children) if (c.process.exitCode === null && c.process.signalCode === null) c.process.kill('SIGKILL');
  };
  process.once('exit', killAll);
  const track = (info: Omit<LocalProcess, 'pid'>, child: ChildProcess): Child => {
    const exited = new Promise<void>((r) =>
      child.once('exit', (code, signal) => {
        if (!stopping) o.onUnexpectedExit?.(info.name, code ?? signal ?? -1);
        r();
      }),
    );
    const c = { info: { ...info, pid: child.pid ?? -1 }, process: child, exited };
    children.push(c);
    return c;
  };
  const stop = async (): Promise<void> => {
    stopping = true;
    const nodes = children.filter((c) => c.info.url.startsWith('http'));
    const servers = children.filter((c) => !c.info.url.startsWith('http'));
    await Promise.all(nodes.map((c) => terminate(c)));
    await Promise.all(servers.map((c) => terminate(c)));
    process.off('exit', killAll);
  };

  try {
    const bin = o.natsServerBin ?? process.env.NATS_SERVER_BIN ?? 'nats-server';
    const natsServer = syncSetting(bin, o.natsSync ?? 'always');
    const start = () => startNatsServers(dataDir, o.natsServers ?? 3, bin, o.natsBasePort, natsServer.sync, track);
    const servers = await start().catch(async (err: Error) => {
      // A port picked as free can be taken before the server binds it: try fresh ports once.
      if (/cannot start|--nats-base-port/.test(err.message) || o.natsBasePort !== undefined) throw err;
      await Promise.all(children.splice(0).map((c) => terminate(c)));
      return start();
    });
    const natsUrl = servers.map((s) => s.info.url).join(',');
    const host = process.env.HOST ?? '127.0.0.1';
    // Nodes serve HTTPS when their environment names a certificate (PARLEY_TLS_CERT): say so in their URLs.
    const scheme = (o.nodeEnv?.PARLEY_TLS_CERT ?? process.env.PARLEY_TLS_CERT) ? 'https' : 'http';
    const nodeUrl = (i: number) => `${scheme}://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${o.basePort + i}`;
    const nodes: Child[] = [];
    for (let i = 0; i < o.nodes; i++) {
      const dir = join(dataDir, `node-${i + 1}`);
      mkdirSync(dir, { recursive: true });
      const log = join(dir, 'parley.log');
      const { PARLEY_NODE_ID: _sameForAll, ...inherited } = process.env; // each node keeps its own id
      const child = spawn(process.execPath, [PARLEY_BIN, 'serve'], {
        env: {
          // The launcher stops every node at once and no balancer is in front: no drain, unless asked.
          PARLEY_DRAIN_SECONDS: '0',
          ...inherited,
          PORT: String(o.basePort + i),
          HOST: host,
          DATA_DIR: dir,
          NATS_URL: natsUrl,
          PARLEY_REPLICAS: String(Math.min(3, servers.length)),
          PARLEY_JWT_SECRET: secret,
          ...o.nodeEnv,
          PARLEY_PARENT_FD: '3',
        },
        stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
        detached: true,
      });
      holdParentPipe(child);
      nodes.push(track({ name: `node-${i + 1}`, url: '', log }, child));
      // The first node creates the stream; the others start once it exists.
      if (i === 0) nodes[0]!.info.url = await listeningUrl(child, log, nodeUrl(0));
    }
    await Promise.all(nodes.slice(1).map(async (n, i) => (n.info.url = await listeningUrl(n.process, n.info.log, nodeUrl(i + 1)))));
    return { nats: servers.map((s) => s.info), natsServer, nodes: nodes.map((n) => n.info), dataDir, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function terminate(c: Child): Promise<void> {
  if (c.process.exitCode !== null || c.process.signalCode !== null) return;
  c.process.kill('SIGTERM');
  const timer = setTimeout(() => {
    // The watchdog shell would leave its server behind: kill that one first.
    if (c.serverPid) signal(c.serverPid, 'SIGKILL');
    c.process.kill('SIGKILL');
  }, 10_000);
  await c.exited;
  clearTimeout(timer);
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

/** The launcher's end of the pipe a child watches: kept open, never written, errors ignored. */
function holdParentPipe(child: ChildProcess): void {
  const pipe = child.stdio[3] as NodeJS.ReadableStream & { on(e: 'error', f: () => void): unknown } | null | undefined;
  pipe?.on('error', () => undefined);
}

/**
 * The sync_interval the servers get: 'always' only where the server knows it (2.10+,
 * `nats-server --version`); older ones run with their default, and the note says why.
 */
function syncSetting(bin: string, wanted: string): { version: string; sync: string; note?: string } {
  let version = 'unknown';
  try {
    version = /v?(\d+\.\d+\.\d+\S*)/.exec(execFileSync(bin, ['--version'], { encoding: 'utf8', timeout: 10_000 }))?.[1] ?? 'unknown';
  } catch {
    // Not runnable: starting it reports that, with the hint where to get it.
  }
  if (wanted === 'default') return { version, sync: 'default' };
  if (wanted !== 'always' && !/^\d+(ms|s|m|h)$/.test(wanted)) {
    throw Object.assign(new Error(`--nats-sync must be always, default or a duration such as 10s, got "${wanted}"`), {
      code: 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE',
    });
  }
  const [major = 0, minor = 0] = version.split('.').map(Number);
  if (major > 2 || (major === 2 && minor >= 10)) return { version, sync: wanted };
  return {
    version,
    sync: 'default',
    note: `nats-server ${version} has no sync_interval (2.10+ has): JetStream fsyncs on its own schedule, so a whole-cluster crash can lose acknowledged writes`,
  };
}

function sharedSecret(dataDir: string): string {
  const file = join(dataDir, 'jwt-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const value = randomBytes(32).toString('base64url');
  writeFileSync(file, value, { mode: 0o600 });
  return value;
}

/**
 * Copies the node's output to its log file and resolves with its URL once it answers
 * /health (asked, not read from its log: LOG_LEVEL=warn hides the listening line).
 */
async function listeningUrl(child: ChildProcess, logFile: string, url: string): Promise<string> {
  const log = createWriteStream(logFile, { flags: 'a' });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`a node exited (${child.exitCode ?? child.signalCode}) before listening; see ${logFile}`);
    }
    if (await answersHealth(url)) return url;
    if (Date.now() > deadline) throw new Error(`a node did not start within ${READY_TIMEOUT_MS} ms; see ${logFile}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Whether the node at `url` answers `/health` (below 500) within a second. Over HTTPS the
 * certificate is not checked: this only asks whether our own child on this machine is up,
 * and its certificate may be self-signed or for another name.
 */
function answersHealth(url: string): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const https = url.startsWith('https:');
    const req = (https ? httpsGet : httpGet)(`${url}/health`, { timeout: 1000, ...(https ? { rejectUnauthorized: false } : {}) }, (res) => {
      res.resume();
      resolvePromise((res.statusCode ?? 500) < 500);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolvePromise(false));
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePromise(port));
    });
  });
}

async function isFree(port: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const srv = createServer();
    srv.once('error', () => resolvePromise(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolvePromise(true)));
  });
}

async function startNatsServers(
  dataDir: string,
  count: number,
  bin: string,
  basePort: number | undefined,
  sync: string,
  track: (info: Omit<LocalProcess, 'pid'>, child: ChildProcess) => Child,
): Promise<Child[]> {
  const specs: Array<{ name: string; port: number; monitor: number; route: number; dir: string }> = [];
  for (let i = 0; i < count; i++) {
    const [port, route, monitor] =
      basePort === undefined ? [await freePort(), await freePort(), await freePort()] : [basePort + i, basePort + count + i, basePort + 2 * count + i];
    specs.push({ name: `n${i + 1}`, port, monitor, route, dir: join(dataDir, `nats-${i + 1}`) });
  }
  if (basePort !== undefined) {
    for (const s of specs) {
      for (const p of [s.port, s.route, s.monitor]) {
        if (!(await isFree(p))) throw new Error(`port ${p} (--nats-base-port ${basePort} … ${basePort + 3 * count - 1}) is in use; choose another --nats-base-port`);
      }
    }
  }
  const servers: Child[] = [];
  // Its own name: servers of another cluster on this machine (a second `parley cluster`,
  // or the peers of a killed member still dialling a port this run now holds) are refused
  // instead of joining it.
  const clusterName = `parley-local-${randomBytes(4).toString('hex')}`;
  const natsSpecs: NatsServerSpec[] = specs.map((s) => ({
    name: s.name,
    dir: s.dir,
    port: s.port,
    monitorPort: s.monitor,
    ...(count > 1 && { cluster: { name: clusterName, port: s.route, routes: specs.filter((o) => o !== s).map((o) => o.route) } }),
    ...(sync !== 'default' && { syncInterval: sync }),
  }));
  for (const [i, s] of specs.entries()) {
    mkdirSync(s.dir, { recursive: true });
    const conf = join(s.dir, 'server.conf');
    writeFileSync(conf, natsServerConfig(natsSpecs[i]!));
    const log = natsLogFile(natsSpecs[i]!);
    const child = spawn('/bin/sh', ['-c', NATS_WATCHDOG, 'nats-watchdog', bin, conf, log], {
      stdio: ['ignore', 'pipe', 'ignore', 'pipe'],
      detached: true,
    });
    holdParentPipe(child);
    const server = track({ name: `nats-${s.name}`, url: `nats://127.0.0.1:${s.port}`, log }, child);
    servers.push(server);
    // The watchdog's first line is the server's pid; the launcher reports (and, at worst, kills) that one.
    const pid = await new Promise<number>((ok, fail) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /nats-server pid (\d+)/.exec(out);
        if (m) ok(Number(m[1]));
      });
      child.once('error', (err) => fail(new Error(`cannot start /bin/sh to run ${bin}: ${err.message}`)));
      child.once('exit', () => fail(new Error(`cannot start ${bin} (set NATS_SERVER_BIN or put nats-server on PATH); see ${log}`)));
    });
    server.serverPid = pid;
    server.info.pid = pid;
  }
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (const [i, spec] of natsSpecs.entries()) {
    const child = servers[i]!.process;
    await natsServerReady(spec, child, Math.max(0, deadline - Date.now())).catch((err: Error) => {
      if (child.exitCode === 127) throw new Error(`cannot start ${bin} (set NATS_SERVER_BIN or put nats-server on PATH); see ${natsLogFile(spec)}`);
      throw err;
    });
  }
  if (natsSpecs.length > 1) await natsClusterFormed(natsSpecs, Math.max(0, deadline - Date.now()));
  return servers;
}
