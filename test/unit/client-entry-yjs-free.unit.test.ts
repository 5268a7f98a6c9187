/**
 * The client package's main entry stays Yjs-free: the web shell imports it, and esbuild's
 * code splitting would pull anything it reaches into the shell's first load (Yjs and lib0
 * are ~30 KB gzipped, half the shell's budget). The Yjs documents are `@parley/client/yjs`.
 */
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

async function inputsOf(entry: string): Promise<string[]> {
  const result = await build({ absWorkingDir: ROOT, entryPoints: [entry], bundle: true, platform: 'browser', format: 'esm', write: false, metafile: true, logLevel: 'silent' });
  return Object.keys(result.metafile.inputs);
}

const yjsParts = (inputs: string[]) => inputs.filter((p) => /node_modules\/(yjs|lib0|y-protocols)\/|^client-lib\/yjs\//.test(p));

describe('client package entries', () => {
  it('client-lib/index.ts reaches no Yjs, lib0, y-protocols or client-lib/yjs module', async () => {
    expect(yjsParts(await inputsOf('client-lib/index.ts'))).toEqual([]);
  });

  it('client-lib/yjs/index.ts does reach Yjs (the check above can see it)', async () => {
    expect(yjsParts(await inputsOf('client-lib/yjs/index.ts')).some((p) => p.includes('node_modules/yjs/'))).toBe(true);
  });
});
