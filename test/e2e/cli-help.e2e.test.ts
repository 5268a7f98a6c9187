/** Every `parley` command answers --help with exit 0; unknown flags are usage errors (exit 2). */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PARLEY_BIN as BIN } from '../helpers/cli.js';

const exec = promisify(execFile);
const COMMANDS = ['serve', 'token', 'rebuild', 'replay', 'tail', 'export', 'import', 'stats', 'verify', 'skip', 'repartition'];

describe('parley --help', () => {
  it('lists every command', async () => {
    const { stdout } = await exec(process.execPath, [BIN, '--help']);
    for (const c of COMMANDS) expect(stdout).toContain(`  ${c} `);
  });

  it.concurrent.each(COMMANDS)('%s --help exits 0 with a usage line', async (command) => {
    const { stdout } = await exec(process.execPath, [BIN, command, '--help']);
    expect(stdout).toMatch(new RegExp(`^usage: parley ${command}`));
  });

  it.concurrent.each(['replay', 'tail', 'export', 'import', 'stats', 'verify', 'repartition'])('%s with an unknown flag exits 2', async (command) => {
    const err = await exec(process.execPath, [BIN, command, '--no-such-flag']).catch((e) => e);
    expect(err.code).toBe(2);
    expect(err.stderr).toMatch(/Unknown option '--no-such-flag'/);
  });
});
