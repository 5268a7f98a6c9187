/**
 * The compiled server (dist/, what `npx parley`, `npm start` and `import 'parley'` load)
 * works without TypeScript: `--help`, `token`, and `serve` answering /health, storing a
 * message (the SQLite writer thread) and finding it (the read-model thread), while a module
 * hook refuses tsx and any .ts file in the process and in each of its worker threads. An
 * app imports `parley` and `parley/protocol` through the exports map, types included.
 *
 * dist/ is built here (incremental tsc, as `npm run build`; about 15 s on a busy 2-core
 * machine when `npm install`'s prepare just built it): a stale dist/ would test code that
 * is no longer in the tree. Every other test runs the source (test/helpers/cli.ts).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenVerifier } from '../../engine/index.js';
import { authSettings } from '../../engine/node/config/index.js';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { spawnNode, TEST_SECRET, tokenFor, type SpawnedNode } from '../helpers/node.js';
import { tempDir } from '../helpers/temp-dir.js';

const exec = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const MAIN = join(ROOT, 'dist/engine/cli/main.js');

// Preloaded into the CLI (and, through the inherited execArgv, into every worker thread): it
// notes each thread it runs in, and its resolve hook notes and refuses tsx and TypeScript files.
const GUARD = `
import { appendFileSync } from 'node:fs';
import { register } from 'node:module';
import { isMainThread, threadId } from 'node:worker_threads';
const log = process.env.NO_TS_GUARD_LOG;
appendFileSync(log, (isMainThread ? 'main' : 'worker') + ' ' + threadId + '\\n');
register(new URL('./no-ts-hooks.mjs', import.meta.url), { data: { log } });
`;
const HOOKS = `
import { appendFileSync } from 'node:fs';
let log;
export function initialize(data) { log = data.log; }
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  if (result.url.includes('/node_modules/tsx/') || /\\.[cm]?tsx?$/.test(new URL(result.url).pathname)) {
    appendFileSync(log, 'loaded ' + result.url + '\\n');
    throw new Error('the compiled CLI loaded ' + result.url);
  }
  return result;
}
`;

const scratch = tempDir('parley-compiled-');
const guardLog = join(scratch.path, 'guard.log');
const env = { ...process.env, NO_TS_GUARD_LOG: guardLog, PARLEY_JWT_SECRET: TEST_SECRET };
const guarded = (): string[] => ['--import', pathToFileURL(join(scratch.path, 'no-ts-guard.mjs')).href, MAIN];
const guardLines = (): string[] => readFileSync(guardLog, 'utf8').trim().split('\n');

beforeAll(async () => {
  await exec(process.execPath, [TSC, '-p', 'tsconfig.build.json'], { cwd: ROOT });
  writeFileSync(join(scratch.path, 'no-ts-guard.mjs'), GUARD);
  writeFileSync(join(scratch.path, 'no-ts-hooks.mjs'), HOOKS);
}, 240_000);
afterAll(() => scratch.remove());

describe('the compiled CLI', () => {
  it('refuses TypeScript under the guard (the guard works)', async () => {
    writeFileSync(guardLog, '');
    const err = await exec(process.execPath, [...guarded().slice(0, 2), join(ROOT, 'engine/cli/main.ts'), '--help'], { env }).catch((e) => e);
    expect(err.code).toBe(1);
    expect(guardLines()).toContain(`loaded ${pathToFileURL(join(ROOT, 'engine/cli/main.ts')).href}`);
  });

  it('prints its help and signs a token without tsx', async () => {
    writeFileSync(guardLog, '');
    const help = await exec(process.execPath, [...guarded(), '--help'], { env });
    expect(help.stdout).toMatch(/^usage: parley <command>/);
    expect(help.stdout).toContain('  serve ');
    const token = await exec(process.execPath, [...guarded(), 'token', 'alice', '--admin'], { env });
    const verifier = createTokenVerifier(authSettings({}, (m) => new Error(m)), TEST_SECRET);
    expect(await verifier.verify(token.stdout.trim())).toMatchObject({ sub: 'alice', role: 'admin' });
    expect(guardLines()).toEqual(['main 0', 'main 0']);
  });

  describe('serve', () => {
    const data = tempDir();
    let node: SpawnedNode;
    beforeAll(async () => {
      writeFileSync(guardLog, '');
      node = await spawnNode(data.path, { NO_TS_GUARD_LOG: guardLog }, guarded());
    });
    afterAll(async () => {
      await node?.kill();
      data.remove();
    });

    it('answers /health, stores a message and finds it, with no tsx in any thread', async () => {
      expect((await fetch(`${node.url}/health`)).status).toBe(200);
      const alice = api(node.url, tokenFor('alice'));
      const { body: c } = await alice.post('/v1/conversations', { title: 'Compiled', members: [] });
      expect((await alice.post(`/v1/conversations/${c.id}/messages`, { clientMessageId: 'c1', text: 'zanzibar' })).status).toBe(201);
      await eventually(async () => expect((await alice.get('/v1/search?q=zanzibar')).body.hits).toHaveLength(1));
      const lines = guardLines();
      expect(lines.filter((l) => l.startsWith('loaded '))).toEqual([]);
      expect(lines).toContain('main 0');
      // The SQLite writers (log and read models' store) and the read-model thread ran guarded too.
      expect(lines.filter((l) => l.startsWith('worker ')).length).toBeGreaterThanOrEqual(2);
    });
  });
});

// An app of the server package: `parley` and `parley/protocol` resolve through package.json's
// exports (a node_modules link, as an install makes), for the type checker and for node.
const APP = `
import { defineProjection, startNode, type ParleyNode } from 'parley';
import { ParleyError, type ErrorCode } from 'parley/protocol';

export const wordCount = defineProjection({
  name: 'word-count',
  version: 1,
  handles: ['MessagePosted'],
  setup: (db) => void db.exec('CREATE TABLE IF NOT EXISTS words (n INTEGER)'),
  truncate: (db) => void db.exec('DELETE FROM words'),
  handle(events, db) {
    for (const e of events) db.prepare('INSERT INTO words VALUES (?)').run(e.data.text.split(' ').length);
  },
});
export const start = (): Promise<ParleyNode> => startNode({ projections: [wordCount] });
export const code: ErrorCode = new ParleyError('not_found').code;
`;

describe('the server package', () => {
  it('exposes parley and parley/protocol through its exports map, with types', async () => {
    const app = join(scratch.path, 'app');
    mkdirSync(join(app, 'node_modules'), { recursive: true });
    symlinkSync(ROOT, join(app, 'node_modules', 'parley'), 'dir');
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    writeFileSync(join(app, 'app.ts'), APP);
    const tsconfig = { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, skipLibCheck: true, noEmit: true };
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { ...tsconfig, typeRoots: [join(ROOT, 'node_modules/@types')], types: ['node'] }, files: ['app.ts'] }));
    await exec(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: app }).catch((e) => expect.fail(`the app does not type-check against the package: ${e.stdout}${e.stderr}`));

    writeFileSync(guardLog, '');
    const script = `const p = await import('parley'); const q = await import('parley/protocol');
      console.log(JSON.stringify([typeof p.startNode, typeof p.defineProjection, typeof q.ParleyError, import.meta.resolve('parley')]));`;
    const ran = await exec(process.execPath, [...guarded().slice(0, 2), '--input-type=module', '-e', script], { cwd: app, env });
    const [startNodeType, defineType, errorType, resolved] = JSON.parse(ran.stdout);
    expect([startNodeType, defineType, errorType]).toEqual(['function', 'function', 'function']);
    expect(resolved).toBe(pathToFileURL(join(ROOT, 'dist/engine/index.js')).href); // the link's target, as node resolves it
    expect(guardLines()).toEqual(['main 0']);
  }, 120_000);
});
