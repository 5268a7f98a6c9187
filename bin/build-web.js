#!/usr/bin/env node
// Builds the web app (web/) into dist/web-app/: the shell bundled and minified with
// esbuild under content-hashed names (served immutable), its index.html, and the service
// worker that keeps those files for offline starts. Prints the shell's gzipped size, which
// the README holds to ≤ 60 KB. Part of `npm run build`; `node bin/build-web.js <dir>`
// builds into another directory (tests, so they never race a build of dist/).
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('../', import.meta.url));
const out = resolve(process.argv[2] ?? `${root}dist/web-app`);
const SHELL_BUDGET_BYTES = 60 * 1024;

rmSync(out, { recursive: true, force: true });
mkdirSync(`${out}/assets`, { recursive: true });

const app = await build({
  absWorkingDir: root,
  entryPoints: { app: 'web/index.ts', style: 'web/app.css' },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: 'linked',
  outdir: `${out}/assets`,
  entryNames: '[name]-[hash]',
  chunkNames: 'chunk-[hash]',
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
});

const outputs = Object.entries(app.metafile.outputs).filter(([file]) => !file.endsWith('.map'));
const named = (entry) => basename(outputs.find(([, o]) => o.entryPoint === entry)[0]);
const script = named('web/index.ts');
const style = named('web/app.css');
const files = outputs.map(([file]) => `/assets/${basename(file)}`);

writeFileSync(
  `${out}/index.html`,
  `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Parley</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/${style}">
<script type="module" src="/assets/${script}"></script>
</head>
<body><div id="app" aria-live="polite"></div></body>
</html>
`,
);

const id = createHash('sha256').update(files.join('\n')).digest('hex').slice(0, 12);
await build({
  absWorkingDir: root,
  entryPoints: ['web/sw.ts'],
  bundle: true,
  format: 'iife',
  target: 'es2022',
  minify: true,
  outfile: `${out}/sw.js`,
  define: { BUILD: JSON.stringify({ id, files }) },
  logLevel: 'warning',
});

// The shell is what every start loads: the entry script, the chunks it imports statically, and the styles.
const shell = new Set([script, style]);
for (const [file, o] of outputs) if (basename(file) === script) for (const i of o.imports) if (i.kind === 'import-statement') shell.add(basename(i.path));
const gz = [...shell].reduce((n, f) => n + gzipSync(readFileSync(`${out}/assets/${f}`), { level: 9 }).length, 0);
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
console.log(`web app: ${relative(root, out) || '.'}/ — shell ${kb(gz)} gzipped (${shell.size} files; budget ${kb(SHELL_BUDGET_BYTES)})`);
if (gz > SHELL_BUDGET_BYTES) {
  console.error(`web app: the shell is over its ${kb(SHELL_BUDGET_BYTES)} budget`);
  process.exitCode = 1;
}
