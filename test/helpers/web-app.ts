/**
 * The web app as `npm run build` makes it, built from this checkout into a temp dir (so
 * test files running side by side never race one build of dist/), for a test node's
 * `webDir`.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tempDir } from './temp-dir.js';

const BUILD = fileURLToPath(new URL('../../bin/build-web.js', import.meta.url));

export async function buildWebApp(): Promise<{ path: string; remove: () => void; output: string }> {
  const dir = tempDir('parley-web-');
  const { stdout } = await promisify(execFile)(process.execPath, [BUILD, dir.path]);
  return { ...dir, output: stdout };
}
