/**
 * Test nodes: `startTestNode()` runs a real node in this process (real SQLite file in a
 * temp dir, real HTTP on a random port); `spawnNode()` runs one as a child process, for
 * tests that kill it with SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { signToken, startNode, type ParleyNode, type StartNodeOptions } from '../../engine/index.js';
import { tempDir } from './temp-dir.js';
import { PARLEY_BIN as BIN } from './cli.js';

export const TEST_SECRET = 'test-secret-of-at-least-32-characters!';
/** The scrape token test nodes take on `/metrics` (PARLEY_METRICS_TOKEN). */
export const TEST_METRICS_TOKEN = 'test-metrics-scrape-token';

export function tokenFor(userId: string, options: { role?: 'admin' | 'user'; ttlSeconds?: number } = {}): string {
  return signToken(TEST_SECRET, { sub: userId, ...options });
}

export interface TestNode extends ParleyNode {
  dataDir: string;
  /** Stops the node and removes its data. */
  destroy(): Promise<void>;
}

export async function startTestNode(options: StartNodeOptions = {}): Promise<TestNode> {
  const dir = options.dataDir ? undefined : tempDir();
  const dataDir = options.dataDir ?? dir!.path;
  const node = await startNode({
    port: 0,
    host: '127.0.0.1',
    jwtSecret: TEST_SECRET,
    logLevel: 'warn',
    env: {},
    // No balancer in front: a test node stops at once unless a test asks for a drain.
    drainSeconds: 0,
    metricsToken: TEST_METRICS_TOKEN,
    ...options,
    dataDir,
  });
  return Object.assign(node, {
    dataDir,
    destroy: async () => {
      await node.close();
      dir?.remove();
    },
  });
}

export interface SpawnedNode {
  url: string;
  process: ChildProcess;
  /** Resolves with the exit code (or signal) once the process has ended. */
  exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): Promise<number | string>;
  /** The node's log lines at warn level and above, and its stderr, for a failure message. */
  problems(): string;
}

/**
 * Runs `parley serve` as a child process on a random port and waits until it listens.
 * `cli` is what node runs before `serve`: the source through tsx unless a test says otherwise
 * (the compiled CLI's test passes its node flags and dist/'s main.js).
 */
export async function spawnNode(dataDir: string, env: Record<string, string> = {}, cli: string[] = [BIN]): Promise<SpawnedNode> {
  const child = spawn(process.execPath, [...cli, 'serve'], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, PARLEY_JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'info', PARLEY_DRAIN_SECONDS: '0', PARLEY_METRICS_TOKEN: TEST_METRICS_TOKEN, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  // pino levels: 40 warn, 50 error, 60 fatal. Kept (bounded) so a failed test can say what the node saw.
  const problems: string[] = [];
  let pending = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const lines = (pending + chunk.toString()).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) if (/^\{"level":[4-6]0/.test(line) && problems.length < 200) problems.push(line.slice(0, 2000));
  });
  const url = await new Promise<string>((resolve, reject) => {
    let buffer = '';
    // A node that never says it listens is killed here: a test that gives up must not leave it running.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node did not start in time: ${stderr}`));
    }, 90_000); // beyond the JetStream store's 60 s start-up wait
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      for (const line of buffer.split('\n')) {
        if (line.includes('parley node listening')) {
          clearTimeout(timer);
          resolve(JSON.parse(line).url);
        }
      }
      buffer = buffer.slice(buffer.lastIndexOf('\n') + 1);
    });
    void exited.then((code) => reject(new Error(`node exited (${code}) before listening: ${stderr}`)));
  });
  return {
    url,
    process: child,
    exited,
    kill: (signal = 'SIGTERM') => {
      child.kill(signal);
      return exited;
    },
    problems: () => [...problems, stderr.slice(-4000)].filter(Boolean).join('\n'),
  };
}
