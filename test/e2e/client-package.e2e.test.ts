/**
 * `@parley/client` as an app gets it: `npm pack` of client-lib/ (its `prepack` builds
 * dist/), the tarball installed into a scratch app in a temp dir, and then, against the
 * installed package only:
 *
 * - the app's tree holds nothing of the server (no Fastify, SQLite or NATS);
 * - client-lib/examples/node-chat.ts (the example client-lib/README.md quotes) and
 *   browser-chat.ts type-check against the installed declarations, strict, lib checks on;
 * - the Node example runs under plain `node` against a real node and exits by itself;
 * - the browser example bundles with esbuild for the browser, pulling in no Node built-in.
 *
 * The scratch app lives under the OS temp dir, so nothing resolves from this repo's
 * node_modules. Its install is `--prefer-offline`: tarballs come from the npm cache that
 * the repo's own install filled; registry metadata is fetched when the cache holds none
 * usable (plain `--offline` fails with ENOTCACHED on machines where it does not).
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from '../helpers/http.js';
import { startTestNode, tokenFor } from '../helpers/node.js';
import { tempDir } from '../helpers/temp-dir.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLIENT_DIR = join(ROOT, 'client-lib');
const EXAMPLES = join(CLIENT_DIR, 'examples');
const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8'));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to its end, never rejecting. `timeout` only stops a hung child (so it
 * cannot outlive the test); the assertions are on what it printed and its exit code.
 */
function run(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = childEnv()): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { cwd, env, timeout: 180_000, maxBuffer: 64 * 1024 * 1024 }, (_err, stdout, stderr) =>
      resolve({ code: child.exitCode, stdout, stderr }),
    );
  });
}

function expectSuccess(r: Run, what: string): void {
  expect(r.code, `${what} failed:\n${r.stdout}\n${r.stderr}`).toBe(0);
}

/**
 * This process's environment without what `npm test` adds: an inherited
 * `npm_config_local_prefix` (and the like) would point the scratch app's npm at this repo.
 */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const keep = /^npm_config_(cache|userconfig|globalconfig|cafile|registry|.*proxy)$/i;
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) || keep.test(k)));
  return { ...env, ...extra };
}

/** Every package installed under `dir`/node_modules, nested ones included. */
function installedPackages(dir: string): Set<string> {
  const found = new Set<string>();
  const walk = (nodeModules: string) => {
    if (!existsSync(nodeModules)) return;
    for (const entry of readdirSync(nodeModules)) {
      if (entry.startsWith('.')) continue;
      const names = entry.startsWith('@') ? readdirSync(join(nodeModules, entry)).map((n) => `${entry}/${n}`) : [entry];
      for (const name of names) {
        found.add(name);
        walk(join(nodeModules, name, 'node_modules'));
      }
    }
  };
  walk(join(dir, 'node_modules'));
  return found;
}

const scratch = tempDir('parley-client-package-');
const app = join(scratch.path, 'app');
let packedFiles: string[] = [];

beforeAll(async () => {
  const packs = join(scratch.path, 'packs');
  mkdirSync(packs);
  const packed = await run('npm', ['pack', '--json', '--pack-destination', packs], CLIENT_DIR);
  expectSuccess(packed, 'npm pack');
  const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
  packedFiles = info!.files.map((f) => f.path);

  mkdirSync(join(app, 'src'), { recursive: true });
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'scratch-app', private: true, type: 'module' }));
  // The app's own dev dependency for Node's types, at the version this repo installed.
  const typesNode = readJson(createRequire(join(ROOT, 'package.json')).resolve('@types/node/package.json')).version;
  const installed = await run(
    'npm',
    ['install', join(packs, info!.filename), `@types/node@${typesNode}`, '--prefer-offline', '--no-audit', '--no-fund'],
    app,
  );
  expectSuccess(installed, 'npm install of the tarball');
  for (const example of ['node-chat.ts', 'browser-chat.ts']) copyFileSync(join(EXAMPLES, example), join(app, 'src', example));
}, 300_000);

afterAll(() => scratch.remove());

describe('@parley/client as a package', () => {
  it('packs its built JavaScript and declarations, protocol included, and nothing else', () => {
    for (const f of ['dist/client-lib/index.js', 'dist/client-lib/index.d.ts', 'dist/client-lib/yjs/index.js', 'dist/client-lib/yjs/index.d.ts', 'dist/client-lib/node.js', 'dist/client-lib/node.d.ts', 'dist/protocol/index.js']) {
      expect(packedFiles).toContain(f);
    }
    expect(packedFiles.filter((f) => !['package.json', 'README.md'].includes(f) && !f.startsWith('dist/'))).toEqual([]);
    expect(packedFiles.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
  });

  it('installs alone: nothing of the server in the app’s tree', () => {
    const tree = installedPackages(app);
    expect(tree).toContain('@parley/client');
    for (const server of ['fastify', 'better-sqlite3', '@nats-io/transport-node', '@nats-io/jetstream']) expect(tree).not.toContain(server);
    // Every dependency of the server that the client does not declare itself stays out too.
    const client = readJson(join(CLIENT_DIR, 'package.json')).dependencies as Record<string, string>;
    const serverOnly = Object.keys(readJson(join(ROOT, 'package.json')).dependencies).filter((d) => !(d in client));
    expect(serverOnly.length).toBeGreaterThan(0);
    expect(serverOnly.filter((d) => tree.has(d))).toEqual([]);
  });

  it('type-checks the Node and the browser example against the installed declarations', async () => {
    const strict = { target: 'ES2022', strict: true, skipLibCheck: false, noEmit: true };
    // Yjs' own declarations name DOM types (Y.XmlElement.toDOM), so a Node app checking
    // library declarations needs the DOM lib as well.
    const configs = {
      'tsconfig.node.json': { compilerOptions: { ...strict, module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022', 'DOM'], types: ['node'] }, files: ['src/node-chat.ts'] },
      'tsconfig.browser.json': { compilerOptions: { ...strict, module: 'ESNext', moduleResolution: 'Bundler', lib: ['ES2022', 'DOM', 'DOM.Iterable'], types: [] }, files: ['src/browser-chat.ts'] },
    };
    for (const [name, config] of Object.entries(configs)) {
      writeFileSync(join(app, name), JSON.stringify(config));
      const checked = await run(process.execPath, [TSC, '-p', name], app);
      expectSuccess(checked, `tsc -p ${name}`);
    }
  }, 120_000);

  it('runs the Node example under plain node against a real node', async () => {
    // Types stripped only; Node itself resolves `@parley/client/node` through the exports map.
    await build({ entryPoints: [join(app, 'src/node-chat.ts')], outfile: join(app, 'out/node-chat.js'), format: 'esm', platform: 'node', logLevel: 'silent' });
    const node = await startTestNode();
    try {
      const ran = await run(process.execPath, ['out/node-chat.js'], app, childEnv({ PARLEY_URL: node.url, PARLEY_TOKEN: tokenFor('alice') }));
      expectSuccess(ran, 'the Node example');
      const summary = JSON.parse(ran.stdout.split('\n').find((line) => line.startsWith('{'))!) as { conversationId: string; messages: { text: string; pending: boolean }[] };
      expect(summary.messages.map((m) => [m.text, m.pending])).toEqual([['hello, bob', false]]);
      expect(existsSync(join(app, 'alice.json'))).toBe(true);

      const reply = await api(node.url, tokenFor('bob')).get(`/v1/conversations/${summary.conversationId}/messages?after=0&limit=10`);
      expect(reply.status).toBe(200);
      expect(reply.body.messages.map((m: { author: string; text: string; reactions: unknown }) => [m.author, m.text, m.reactions])).toEqual([
        ['alice', 'hello, bob', { '👍': ['alice'] }],
      ]);
    } finally {
      await node.destroy();
    }
  }, 120_000);

  it('bundles the browser example for the browser with esbuild, no Node built-in pulled in', async () => {
    const result = await build({
      entryPoints: [join(app, 'src/browser-chat.ts')],
      absWorkingDir: app,
      bundle: true,
      platform: 'browser',
      format: 'esm',
      target: 'es2022',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    expect(result.errors).toEqual([]);
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((p) => p.startsWith('node_modules/@parley/client/dist/'))).toBe(true);
    // Only the app and what it installed: nothing from this repo's sources or node_modules.
    expect(inputs.filter((p) => !p.startsWith('node_modules/') && !p.startsWith('src/'))).toEqual([]);
    const bundle = result.outputFiles[0]!.text;
    expect(bundle).not.toMatch(/["']node:|require\(/);
    expect(bundle).not.toMatch(/from\s*["']ws["']/);
  });
});
