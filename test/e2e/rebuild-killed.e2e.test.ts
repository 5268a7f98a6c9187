/**
 * `parley rebuild` writes the read models through a rollback journal (not the WAL) while it
 * loads. Killed in the middle of a transaction, it must leave a file that the next open
 * rolls back to a consistent state, which catches up from the log to exactly the read
 * models a fresh replay builds (`parley verify`). Real CLI process, real SQLite files.
 */
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteEventStore, type NewEvent } from '../../engine/store/index.js';
import { ProjectionRunner, builtInProjections } from '../../projections/index.js';
import { PARLEY_BIN } from '../helpers/cli.js';
import { eventually } from '../helpers/eventually.js';
import { tempDir } from '../helpers/temp-dir.js';

const run = promisify(execFile);
const dir = tempDir();
const open: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

function event(type: string, data: object, at: number): NewEvent {
  return { id: randomUUID(), type, data, metadata: { actor: 'alice', commandId: randomUUID(), correlationId: 'c', at, schemaVersion: type === 'MessagePosted' ? 2 : 1 } };
}

describe('a rebuild killed midway', () => {
  it('leaves a file the next start rolls back and catches up to what a fresh replay builds', async () => {
    const store = new SqliteEventStore({ file: join(dir.path, 'events.sqlite') });
    for (let c = 0; c < 4; c++) {
      const events = [event('ConversationCreated', { title: `c${c}`, createdBy: 'alice', members: ['alice', 'bob'] }, 1)];
      for (let i = 0; i < 6000; i++) {
        const messageId = `m${c}-${i}`;
        events.push(event('MessagePosted', { messageId, author: i % 2 ? 'bob' : 'alice', text: `lunch deploy review ${i}`, format: 'plain' }, 1000 + i));
        if (i % 50 === 49) events.push(event('MessageDeleted', { messageId, deletedBy: 'alice' }, 1000 + i));
      }
      await store.append(`conversation-c${c}`, events, { expectedVersion: 0 });
    }
    await store.close();

    const env = { ...process.env, PARLEY_JWT_SECRET: 'a-test-secret-of-enough-length-0123456789' };
    const journal = join(dir.path, 'readmodels.sqlite-journal');
    const cli = spawn(process.execPath, [PARLEY_BIN, 'rebuild', '--data-dir', dir.path], { env, stdio: 'ignore' });
    const exited = new Promise((resolve) => cli.once('exit', resolve));
    // The sentinel: a transaction of the load is open (its rollback journal exists).
    await eventually(() => expect(existsSync(journal)).toBe(true), 120_000, 5);
    cli.kill('SIGKILL');
    await exited;

    const reopened = new SqliteEventStore({ file: join(dir.path, 'events.sqlite') });
    const db = ProjectionRunner.openDatabase(join(dir.path, 'readmodels.sqlite'));
    open.push(reopened, db);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    const runner = new ProjectionRunner(reopened, db, builtInProjections());
    await runner.start();
    await runner.stop();
    expect(runner.position).toBe(await reopened.headPosition());
    db.close();
    open.splice(open.indexOf(db), 1);
    await reopened.close();
    open.splice(open.indexOf(reopened), 1);

    const verify = await run(process.execPath, [PARLEY_BIN, 'verify', '--data-dir', dir.path], { env });
    expect(verify.stdout).toMatch(/verify ok: .* \d+ read models .* are consistent/);
  }, 300_000);
});
