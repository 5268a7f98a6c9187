#!/usr/bin/env node
// The CLI as installed (`npx parley`, `npm start`): the compiled JavaScript in dist/, which
// `npm install` builds (prepare) and `npm run build` rebuilds. No TypeScript loader at run
// time; bin/parley-dev.js runs the source instead.
import { existsSync } from 'node:fs';

const main = new URL('../dist/engine/cli/main.js', import.meta.url);
if (existsSync(main)) {
  await import(main.href);
} else {
  process.stderr.write('parley: the compiled CLI (dist/) is missing: run `npm run build` (or `npm install`) first\n');
  process.exitCode = 1;
}
