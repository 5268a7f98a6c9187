/**
 * The CLI as the tests run it: the TypeScript source through tsx (bin/parley-dev.js), so a
 * test always runs the code in the tree and never a stale dist/. The compiled CLI
 * (bin/parley.js → dist/) has its own test, test/e2e/compiled-cli.e2e.test.ts, which
 * builds dist/ first.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const PARLEY_BIN = fileURLToPath(new URL('../../bin/parley-dev.js', import.meta.url));

export interface ServeRun {
  /** The exit code, or the signal that ended it (SIGKILL past the bound). */
  code: number | string;
  stdout: string;
  stderr: string;
}

/**
 * Runs `parley serve` to its end, for tests of start-ups that must fail on their own: on
 * loopback, port 0, no NATS unless `env` names one; killed after 40 s.
 */
export function serveToEnd(env: Record<string, string>): Promise<ServeRun> {
  const child = spawn(process.execPath, [PARLEY_BIN, 'serve'], {
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', NATS_URL: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
  return new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal ?? -1, stdout, stderr });
    }),
  );
}
