/**
 * The CLI as the tests run it: the TypeScript source through tsx (bin/parley-dev.js), so a
 * test always runs the code in the tree and never a stale dist/. The compiled CLI
 * (bin/parley.js → dist/) has its own test, test/e2e/compiled-cli.e2e.test.ts, which
 * builds dist/ first.
 */
import { fileURLToPath } from 'node:url';

export const PARLEY_BIN = fileURLToPath(new URL('../../bin/parley-dev.js', import.meta.url));
