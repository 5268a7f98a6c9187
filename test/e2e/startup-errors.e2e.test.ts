/**
 * Start-up failures as a user meets them: `parley serve` exits non-zero with one line
 * that names what failed, the setting that controls it and what to do — no stack trace.
 * NATS or EventStoreDB unreachable, a port in use (and then no `NodeStarted` in the log: the node never
 * started), existing data on a read-only file system, a missing data directory on one.
 *
 * The read-only cases need a read-only bind mount (root); where mounting is impossible
 * they are skipped with the reason printed.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/nats-server.js';
import { spawnNode, TEST_SECRET } from '../helpers/node.js';
import { tempDir } from '../helpers/temp-dir.js';
import { serveToEnd, type ServeRun } from '../helpers/cli.js';

const dir = tempDir('parley-startup-');

/** Runs `parley serve` to its end (it must fail on its own within the bound). */
const serve = (env: Record<string, string>) => serveToEnd({ PARLEY_JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'info', ...env });

/** The one line a failed start prints, checked for the words a user needs. */
function expectOneClearLine(run: ServeRun, ...words: string[]): void {
  expect(run.code, `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`).toBe(1);
  const lines = run.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^parley serve: cannot /);
  for (const w of words) expect(lines[0]).toContain(w);
  expect(run.stderr + run.stdout).not.toMatch(/\n\s+at /); // no stack trace
}

afterAll(() => dir.remove());

describe('start-up errors', () => {
  it('NATS unreachable: names NATS, the URL and NATS_URL / --nats', async () => {
    const port = await freePort();
    const url = `nats://127.0.0.1:${port}`;
    const run = await serve({ DATA_DIR: join(dir.path, 'nats'), NATS_URL: url });
    expectOneClearLine(run, `cannot reach NATS at ${url}`, 'NATS_URL / --nats');
  }, 60_000);

  it('EventStoreDB unreachable: names EventStoreDB, the address and EVENTSTORE_URL, hiding the password', async () => {
    const port = await freePort();
    const run = await serve({ DATA_DIR: join(dir.path, 'esdb'), PARLEY_STORE: 'eventstoredb', EVENTSTORE_URL: `esdb://admin:pw-secret@127.0.0.1:${port}?tls=false` });
    expectOneClearLine(run, `cannot reach EventStoreDB at esdb://admin:***@127.0.0.1:${port}?tls=false`, 'EVENTSTORE_URL');
    expect(run.stderr).not.toContain('pw-secret');
  }, 60_000);

  it('port in use: names the port and PORT / --port, and records no NodeStarted', async () => {
    const holder: Server = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const port = (holder.address() as { port: number }).port;
    try {
      const dataDir = join(dir.path, 'port');
      const run = await serve({ DATA_DIR: dataDir, PORT: String(port), PARLEY_NODE_ID: 'busy-port' });
      expectOneClearLine(run, `127.0.0.1:${port}`, `port ${port} is already in use`, 'PORT / --port');
      // The store was opened (the log exists) but the node never started: nothing recorded it.
      const db = new Database(join(dataDir, 'events.sqlite'), { readonly: true });
      try {
        expect(db.prepare("SELECT count(*) FROM events WHERE type = 'NodeStarted'").pluck().get()).toBe(0);
      } finally {
        db.close();
      }
    } finally {
      await new Promise((r) => holder.close(r));
    }
    // The same data directory on a free port starts, and records NodeStarted exactly once.
    const node = await spawnNode(join(dir.path, 'port'), { PARLEY_NODE_ID: 'busy-port' });
    expect(await node.kill('SIGTERM')).toBe(0);
    const db = new Database(join(dir.path, 'port', 'events.sqlite'), { readonly: true });
    try {
      expect(db.prepare("SELECT count(*) FROM events WHERE type = 'NodeStarted'").pluck().get()).toBe(1);
    } finally {
      db.close();
    }
  }, 90_000);

  describe('read-only file system', () => {
    const src = join(dir.path, 'src');
    const ro = join(dir.path, 'ro');
    let skip: string | undefined;
    beforeAll(async () => {
      mkdirSync(join(src, 'data'), { recursive: true });
      mkdirSync(ro, { recursive: true });
      // Existing data, from a node that stopped cleanly.
      const node = await spawnNode(join(src, 'data'));
      expect(await node.kill('SIGTERM')).toBe(0);
      try {
        execFileSync('mount', ['--bind', src, ro], { stdio: 'pipe' });
        execFileSync('mount', ['-o', 'remount,bind,ro', ro], { stdio: 'pipe' });
      } catch (err) {
        skip = `cannot make a read-only bind mount (${(err as Error).message.split('\n')[0]})`;
        return;
      }
      try {
        writeFileSync(join(ro, 'probe'), 'x');
        skip = 'the bind mount is writable';
      } catch {
        // read-only, as wanted
      }
    }, 60_000);
    afterAll(() => {
      try {
        execFileSync('umount', [ro], { stdio: 'pipe' });
      } catch {
        // not mounted
      }
    });

    it('existing data: names the file and DATA_DIR / --data-dir', async (ctx) => {
      if (skip) {
        console.log(`skipped: ${skip}`);
        return ctx.skip();
      }
      const run = await serve({ DATA_DIR: join(ro, 'data') });
      expectOneClearLine(run, join(ro, 'data', 'events.sqlite'), 'DATA_DIR / --data-dir');
    }, 60_000);

    it('missing data directory: names the directory and DATA_DIR / --data-dir', async (ctx) => {
      if (skip) {
        console.log(`skipped: ${skip}`);
        return ctx.skip();
      }
      const missing = join(ro, 'missing', 'data');
      const run = await serve({ DATA_DIR: missing });
      expectOneClearLine(run, `cannot create the data directory ${missing}`, 'DATA_DIR / --data-dir');
    }, 60_000);
  });
});
