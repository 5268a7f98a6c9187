/**
 * The layers stay: dependency-cruiser, with the rules in .dependency-cruiser.cjs, fails on
 * any import cycle, any import up the stack (protocol → store → domain → projections →
 * sync → cluster → node → cli), a client import of server code, or an import of a file
 * inside another folder instead of its index.ts.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DEPCRUISE = fileURLToPath(new URL('../../node_modules/dependency-cruiser/bin/dependency-cruise.mjs', import.meta.url));

async function cruise(...args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [DEPCRUISE, '--config', '.dependency-cruiser.cjs', '--output-type', 'err', ...args], {
      cwd: ROOT,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

describe('layers', () => {
  it('has no import cycle, upward import, server import in the client, or reach into another folder', async () => {
    const { code, output } = await cruise('engine', 'projections', 'sync', 'protocol', 'client-lib', 'web');
    expect(output).toMatch(/no dependency violations found/);
    expect(code).toBe(0);
  }, 60_000);
});
