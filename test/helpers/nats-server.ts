/**
 * Real nats-server processes for integration tests: one JetStream server, or a 3-server
 * JetStream cluster whose members can be killed and restarted on the same ports and store
 * directories (so a restarted member rejoins with its data).
 *
 * The binary is `NATS_SERVER_BIN`, else `nats-server` on PATH. Each server gets its config
 * file, log file and store directory under one temp directory; the configuration and the
 * readiness check (/healthz, and for a cluster a JetStream meta leader that sees every member) are the ones
 * `parley cluster` uses (engine/cluster/nats-server.ts). Every process started here is SIGKILLed when the
 * test process exits, so a failed test does not leave servers behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { natsClusterFormed, natsLogFile, natsServerConfig, natsServerReady, natsStoreDir, type NatsServerSpec } from '../../engine/cluster/index.js';
import { freePort } from './ports.js';
import { tempDir } from './temp-dir.js';

const BIN = process.env.NATS_SERVER_BIN ?? 'nats-server';
const READY_TIMEOUT_MS = 20_000;
/**
 * A restarted cluster member is healthy only once it has applied the meta log it missed
 * (every stream the test file created since); CI saw that take over 20 s on a loaded machine.
 */
const REJOIN_TIMEOUT_MS = 60_000;

export interface NatsServer {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  readonly monitorPort: number;
  readonly storeDir: string;
  /** Signals the process (default SIGTERM) and waits until it has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the process again with the same config, ports and store; waits until ready. */
  restart(): Promise<void>;
  /** Kills the process; the temp directory is removed by whoever created it. */
  stop(): Promise<void>;
}

export interface NatsSingle extends NatsServer {
  /** Kills the process and removes its temp directory. */
  stop(): Promise<void>;
}

export interface NatsCluster {
  readonly urls: string[];
  readonly members: NatsServer[];
  /** Kills every member and removes the temp directory. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
const dirs = new Set<{ remove: () => void }>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const killAll = (): void => {
    for (const child of running) child.kill('SIGKILL');
    for (const dir of dirs) dir.remove();
  };
  process.once('exit', killAll);
  // 'exit' does not run when the runner is interrupted; take the servers down, then let
  // the signal do what it would have done (the once-handler is gone by then).
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killAll();
      process.kill(process.pid, signal);
    });
  }
}

export { freePort } from './ports.js';

/**
 * The last lines of a member's log, for an error that must say why it did not start. A line
 * repeated (our readiness polls log a failed health check each time) is kept once with a
 * count, so the lines before the repetition still show.
 */
function logTail(spec: NatsServerSpec, lines = 25): string {
  let text: string;
  try {
    text = readFileSync(natsLogFile(spec), 'utf8');
  } catch (err) {
    return `(no log: ${(err as Error).message})`;
  }
  const collapsed: { message: string; line: string; count: number }[] = [];
  for (const line of text.trimEnd().split('\n')) {
    const message = line.replace(/^\[\d+\] \S+ \S+ /, '');
    const last = collapsed[collapsed.length - 1];
    if (last?.message === message) last.count++;
    else collapsed.push({ message, line, count: 1 });
  }
  return collapsed
    .slice(-lines)
    .map((c) => (c.count > 1 ? `${c.line}  (×${c.count})` : c.line))
    .join('\n');
}

interface MemberSpec extends NatsServerSpec {
  /** The nats-server binary (default BIN). */
  bin?: string;
  /** Appended to the configuration file. */
  extraConfig?: string;
}

export interface NatsStartOptions {
  /** Another nats-server binary than NATS_SERVER_BIN / PATH, e.g. an old one to test refusals. */
  bin?: string;
  /** Blocks appended to the server's configuration, e.g. `tls { … }` or `authorization { … }`. */
  extraConfig?: string;
}

class Member implements NatsServer {
  private child: ChildProcess | undefined;
  readonly configFile: string;

  constructor(readonly spec: MemberSpec) {
    this.configFile = join(spec.dir, 'server.conf');
    writeFileSync(this.configFile, natsServerConfig(spec) + (spec.extraConfig ?? ''));
  }

  get name(): string {
    return this.spec.name;
  }
  get url(): string {
    return `nats://127.0.0.1:${this.spec.port}`;
  }
  get port(): number {
    return this.spec.port;
  }
  get monitorPort(): number {
    return this.spec.monitorPort;
  }
  get storeDir(): string {
    return natsStoreDir(this.spec);
  }

  /** Spawns the process without waiting; `ready()` waits. */
  spawn(): void {
    installExitHook();
    const child = spawn(this.spec.bin ?? BIN, ['-c', this.configFile], { stdio: 'ignore' });
    child.on('error', () => {
      // ENOENT and friends surface through ready() seeing the exit code.
    });
    running.add(child);
    child.once('exit', () => running.delete(child));
    this.child = child;
  }

  logTail(): string {
    return logTail(this.spec);
  }

  async ready(timeoutMs = READY_TIMEOUT_MS): Promise<void> {
    try {
      await natsServerReady(this.spec, this.child!, timeoutMs);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- ${this.spec.name} server.log (last lines) ---\n${logTail(this.spec)}`);
    }
  }

  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  async restart(): Promise<void> {
    await this.kill();
    this.spawn();
    await this.ready(this.spec.cluster ? REJOIN_TIMEOUT_MS : READY_TIMEOUT_MS);
  }

  async stop(): Promise<void> {
    await this.kill('SIGKILL');
  }
}

/** One JetStream-enabled nats-server on random free ports with a temp store directory. */
export async function startNatsServer(options: NatsStartOptions = {}): Promise<NatsSingle> {
  const dir = tempDir('parley-nats-');
  dirs.add(dir);
  const member = new Member({ name: 'n1', dir: dir.path, port: await freePort(), monitorPort: await freePort(), bin: options.bin, extraConfig: options.extraConfig });
  member.spawn();
  try {
    await member.ready();
  } catch (err) {
    await member.stop();
    dir.remove();
    throw err;
  }
  return {
    name: member.name,
    url: member.url,
    port: member.port,
    monitorPort: member.monitorPort,
    storeDir: member.storeDir,
    kill: (signal) => member.kill(signal),
    restart: () => member.restart(),
    stop: async () => {
      await member.stop();
      dir.remove();
      dirs.delete(dir);
    },
  };
}

/**
 * A JetStream cluster of `size` servers (routes on random ports), ready with a meta leader
 * that sees every member as a current peer.
 * Formation takes well under a second here; when it does not happen within the bound, the
 * failure is printed with every member's log and the cluster is started once more on fresh
 * ports and directories (a port another test file bound between our check and the
 * member's listen is the one cause seen), so a second failure is the test's failure.
 */
export async function startNatsCluster(size = 3, options: NatsStartOptions = {}): Promise<NatsCluster> {
  try {
    return await launchCluster(size, options);
  } catch (err) {
    console.warn(`nats-server cluster did not start; trying once more on fresh ports:\n${(err as Error).message}`);
    return launchCluster(size, options);
  }
}

let clustersLaunched = 0;

async function launchCluster(size: number, options: NatsStartOptions): Promise<NatsCluster> {
  const dir = tempDir('parley-nats-cluster-');
  dirs.add(dir);
  // Unique per cluster: a member another test file killed leaves its peers dialling its old
  // route port, and under one shared name they joined whichever cluster took that port next
  // (seen: a meta leader that never saw its third member). A foreign name is refused.
  const clusterName = `parley-${process.pid}-${++clustersLaunched}`;
  const clusterPorts: number[] = [];
  for (let i = 0; i < size; i++) clusterPorts.push(await freePort());
  const members: Member[] = [];
  for (let i = 0; i < size; i++) {
    const memberDir = join(dir.path, `n${i + 1}`);
    mkdirSync(memberDir, { recursive: true });
    members.push(
      new Member({
        name: `n${i + 1}`,
        dir: memberDir,
        port: await freePort(),
        monitorPort: await freePort(),
        cluster: { name: clusterName, port: clusterPorts[i]!, routes: clusterPorts.filter((_, j) => j !== i) },
        bin: options.bin,
      }),
    );
  }
  const stop = async (): Promise<void> => {
    await Promise.all(members.map((m) => m.stop()));
    dir.remove();
    dirs.delete(dir);
  };
  for (const m of members) m.spawn();
  try {
    await Promise.all(members.map((m) => m.ready()));
    await natsClusterFormed(members.map((m) => m.spec), READY_TIMEOUT_MS);
  } catch (err) {
    const others = members.filter((m) => !(err as Error).message.includes(`nats-server ${m.name} `));
    const logs = others.map((m) => `--- ${m.name} server.log (last lines) ---\n${m.logTail()}`).join('\n');
    await stop();
    throw new Error(`${(err as Error).message}\n${logs}`);
  }
  return { urls: members.map((m) => m.url), members, stop };
}
