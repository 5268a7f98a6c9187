/**
 * Processes of a benchmark run: the Parley node and the peer servers under test, and the
 * load generators that drive them. Everything started here is registered, so a run that
 * ends (or fails, or is interrupted) stops all of it and removes its temporary dirs.
 */
import { execFileSync, execSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_METRICS_TOKEN, BENCH_SECRET } from './jwt.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PARLEY_BIN = join(ROOT, 'bin/parley.js');
const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));

const children = new Set<ChildProcess>();
const dirs = new Set<string>();

export function tempDir(prefix = 'parley-bench-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

/** Stops every process still running and removes every temp dir (idempotent). */
export function cleanupAll(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.clear();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.clear();
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Resident set size of a process in bytes, from /proc (Linux). */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
  return kb ? Number(kb) * 1024 : NaN;
}

let clockTicks: number | undefined;

/**
 * CPU time (user + system, all threads) a process has used so far, in seconds, from
 * /proc/<pid>/stat (Linux). Read before and after a window, it gives the server's CPU for
 * that window, its worker threads included, without any help from the server.
 */
export function cpuSecondsOf(pid: number): number {
  clockTicks ??= Number(execSync('getconf CLK_TCK').toString().trim()) || 100;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at state (field 3);
  // utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

export interface Server {
  system: string;
  url: string;
  pid: number;
  process: ChildProcess;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and waits for it to exit. */
  stop(): Promise<void>;
}

/** Registers a child process of the run (stopped by cleanupAll) and keeps the tail of its stderr. */
export function track(
  child: ChildProcess,
  name: string,
  /** True once the harness itself is stopping the process (a non-zero exit is then expected). */
  stopping: () => boolean = () => false,
): { exited: Promise<void>; stderr: () => string } {
  children.add(child);
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d;
    if (stderr.length > 20_000) stderr = stderr.slice(-10_000);
  });
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      children.delete(child);
      if (code && code !== 0 && signal === null && !stopping()) process.stderr.write(`\n[${name} exited ${code}] ${stderr.slice(-2000)}\n`);
      resolve();
    }),
  );
  return { exited, stderr: () => stderr };
}

function stopper(child: ChildProcess, exited: Promise<void>): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
}

async function waitForHealth(url: string, exited: Promise<void>, stderr: () => string, timeoutMs = 30_000): Promise<void> {
  let dead = false;
  void exited.then(() => (dead = true));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (dead) throw new Error(`server exited before listening: ${stderr().slice(-2000)}`);
    try {
      const res = await fetch(`${url}/health`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server at ${url} not healthy within ${timeoutMs} ms: ${stderr().slice(-2000)}`);
}

export interface ParleyOptions {
  dataDir?: string;
  env?: Record<string, string>;
  /** Extra node flags, e.g. ['--cpu-prof', '--cpu-prof-dir=…']. */
  nodeArgs?: string[];
}

let built = false;

/**
 * The node and CLI under test run compiled (bin/parley.js → dist/), as deployed. dist/ is
 * rebuilt (incremental tsc, `npm run build`) before the first one starts, so a run never
 * measures stale code.
 */
function ensureBuilt(): void {
  if (built) return;
  execFileSync(process.execPath, [TSC, '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
  built = true;
}

/** Runs `parley serve` on 127.0.0.1 with rate limits off and quiet logs. */
export async function startParley(options: ParleyOptions = {}): Promise<Server & { dataDir: string }> {
  ensureBuilt();
  const dataDir = options.dataDir ?? tempDir();
  const port = await freePort();
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), PARLEY_BIN, 'serve'], {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      PARLEY_JWT_SECRET: BENCH_SECRET,
      LOG_LEVEL: 'warn',
      PARLEY_RATE_PER_CONNECTION: '0',
      PARLEY_RATE_PER_USER: '0',
      PARLEY_METRICS_TOKEN: BENCH_METRICS_TOKEN,
      PARLEY_DRAIN_SECONDS: '0',
      ...options.env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const { exited, stderr } = track(child, 'parley');
  const url = `http://127.0.0.1:${port}`;
  await waitForHealth(url, exited, stderr);
  return { system: 'parley', url, pid: child.pid!, process: child, dataDir, stop: stopper(child, exited) };
}

export interface CliRun {
  code: number | null;
  /** Wall time from spawn to exit, as a user running the command sees it. */
  seconds: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `parley <args…>` to completion as a user would (its own process, no TTY), killed
 * after `timeoutMs`. NATS_URL is cleared so the embedded store of --data-dir is used.
 */
export async function runParleyCli(args: string[], options: { env?: Record<string, string>; nodeArgs?: string[]; timeoutMs?: number } = {}): Promise<CliRun> {
  const env: Record<string, string | undefined> = { ...process.env, PARLEY_JWT_SECRET: BENCH_SECRET, LOG_LEVEL: 'warn', ...options.env };
  delete env.NATS_URL;
  ensureBuilt();
  const t0 = performance.now();
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), PARLEY_BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout!.on('data', (d) => (stdout = (stdout + d).slice(-20_000)));
  let killed = false;
  const { exited, stderr } = track(child, `parley ${args[0]}`, () => killed);
  const timer = setTimeout(() => ((killed = true), child.kill('SIGKILL')), options.timeoutMs ?? 900_000);
  await exited;
  clearTimeout(timer);
  const seconds = (performance.now() - t0) / 1000;
  if (killed) throw new Error(`parley ${args.join(' ')} did not finish within ${options.timeoutMs ?? 900_000} ms`);
  return { code: child.exitCode, seconds, stdout, stderr: stderr() };
}

/** Runs a peer server (bench/peers/<name>.ts) on 127.0.0.1. */
export async function startPeer(name: 'socketio-server' | 'ws-server' | 'y-websocket-server', system: string, env: Record<string, string> = {}): Promise<Server> {
  const port = await freePort();
  const child = fork(join(BENCH_DIR, 'peers', `${name}.ts`), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  const { exited, stderr } = track(child, name);
  const url = `http://127.0.0.1:${port}`;
  await waitForHealth(url, exited, stderr);
  return { system, url, pid: child.pid!, process: child, stop: stopper(child, exited) };
}

export interface LoadChild {
  pid: number;
  /** Sends a request and resolves with the child's answer to it. */
  request<T = unknown>(message: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  /** Progress messages the child sends while working. */
  onProgress(listener: (p: Record<string, unknown>) => void): void;
  stop(): Promise<void>;
}

/**
 * Starts a load generator (bench/load/<name>.ts) in its own process. It answers each
 * request `{id, …}` with `{id, ok, result | error}` over the IPC channel.
 */
/**
 * `BENCH_LOAD_NICE=10`: the load generators run below the servers' priority, for every
 * system alike (a diagnostic: on separate machines the clients take no core from the
 * server). Only the generator's main thread, where its work is; not the default.
 */
function niceLoad(pid: number | undefined): void {
  const nice = Number(process.env.BENCH_LOAD_NICE ?? 0);
  if (pid === undefined || !Number.isInteger(nice) || nice === 0) return;
  try {
    setPriority(pid, nice);
  } catch (err) {
    process.stderr.write(`BENCH_LOAD_NICE: ${String(err)}\n`);
  }
}

export function startLoad(name: string, options: { env?: Record<string, string>; nodeArgs?: string[] } = {}): LoadChild {
  const child = fork(join(BENCH_DIR, 'load', `${name}.ts`), [], {
    execArgv: ['--import', 'tsx', '--max-old-space-size=4096', ...(options.nodeArgs ?? [])],
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  const { exited, stderr } = track(child, name);
  niceLoad(child.pid);
  let nextId = 1;
  const waiting = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  const progress: Array<(p: Record<string, unknown>) => void> = [];
  child.on('message', (m: any) => {
    if (m?.progress) return progress.forEach((l) => l(m.progress));
    const w = waiting.get(m?.id);
    if (!w) return;
    waiting.delete(m.id);
    if (m.ok) w.resolve(m.result);
    else w.reject(new Error(`${name}: ${m.error}`));
  });
  void exited.then(() => {
    for (const w of waiting.values()) w.reject(new Error(`${name} exited: ${stderr().slice(-2000)}`));
    waiting.clear();
  });
  return {
    pid: child.pid!,
    request(message, timeoutMs = 120_000) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error(`${name}: no answer to ${String(message.cmd)} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiting.set(id, {
          resolve: (v) => (clearTimeout(timer), resolve(v)),
          reject: (e) => (clearTimeout(timer), reject(e)),
        });
        child.send({ ...message, id });
      });
    },
    onProgress: (l) => progress.push(l),
    stop: stopper(child, exited),
  };
}
