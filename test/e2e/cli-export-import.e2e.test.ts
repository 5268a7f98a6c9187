/**
 * `parley export` / `parley import`: the log moves between data directories with its
 * positions, seqs and idempotency records, so a node on the copy answers exactly as the
 * original did and retried client ids are still duplicates. Bad input imports nothing.
 */
import Database from 'better-sqlite3';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { api } from '../helpers/http.js';
import { startTestNode, tokenFor, TEST_SECRET, type TestNode } from '../helpers/node.js';
import { tempDir } from '../helpers/temp-dir.js';
import { PARLEY_BIN as BIN } from '../helpers/cli.js';

const exec = promisify(execFile);
const dirs = [tempDir(), tempDir(), tempDir(), tempDir()];
const [source, copy, corruptTarget, files] = dirs.map((d) => d.path) as [string, string, string, string];
let node: TestNode | undefined;
afterAll(async () => {
  await node?.close();
  for (const d of dirs) d.remove();
});

async function parley(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [BIN, ...args], { env: { ...process.env, PARLEY_JWT_SECRET: TEST_SECRET } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function answers(n: TestNode, ids: string[]) {
  const out: unknown[] = [];
  for (const user of ['alice', 'bob']) {
    const client = api(n.url, tokenFor(user));
    const list = (await client.get('/v1/conversations')).body;
    out.push(list);
    for (const id of ids) out.push((await client.get(`/v1/conversations/${id}/messages?limit=1000`)).body);
  }
  return out;
}

function eventRows(dataDir: string) {
  const db = new Database(join(dataDir, 'events.sqlite'), { readonly: true });
  try {
    return {
      events: db.prepare('SELECT position, stream, seq, id, type, data, metadata FROM events ORDER BY position').all(),
      keys: db.prepare('SELECT * FROM idempotency ORDER BY key').all(),
    };
  } finally {
    db.close();
  }
}

describe('export and import', () => {
  const ids: string[] = [];
  let before: unknown[] = [];
  const exportFile = join(files, 'log.ndjson');

  it('exports a log and imports it into an empty directory with identical history, seqs and positions', async () => {
    node = await startTestNode({ dataDir: source });
    const alice = api(node.url, tokenFor('alice'));
    const bob = api(node.url, tokenFor('bob'));
    for (let c = 0; c < 2; c++) {
      const { body } = await alice.post('/v1/conversations', { title: `room ${c}`, members: ['bob'] });
      ids.push(body.id);
      for (let i = 0; i < 8; i++) {
        const m = await (i % 2 ? alice : bob).post(`/v1/conversations/${body.id}/messages`, { clientMessageId: `m-${c}-${i}`, text: `text ${c}/${i} ✓` });
        expect(m.status).toBe(201);
        if (i === 2) await bob.post(`/v1/conversations/${body.id}/messages/${m.body.messageId}/reactions`, { emoji: '🎉' });
        if (i === 3) await alice.delete(`/v1/conversations/${body.id}/messages/${m.body.messageId}`);
      }
      await bob.post(`/v1/conversations/${body.id}/read`, { seq: 4 });
    }
    before = await answers(node, ids);
    await node.close();
    node = undefined;

    const exported = await parley('export', '--data-dir', source, '--out', exportFile);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toMatch(/^exported \d+ events and \d+ idempotency records/);
    const lines = readFileSync(exportFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ kind: 'parley-log', version: 1 });
    expect(lines.at(-1)).toMatchObject({ kind: 'end' });

    const imported = await parley('import', '--data-dir', copy, '--in', exportFile);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toMatch(/^imported \d+ events and \d+ idempotency records/);
    expect(eventRows(copy)).toEqual(eventRows(source));

    node = await startTestNode({ dataDir: copy });
    expect(await answers(node, ids)).toEqual(before);
  });

  it('keeps retried client message ids duplicates after the import', async () => {
    const alice = api(node!.url, tokenFor('alice'));
    const retry = await alice.post(`/v1/conversations/${ids[0]}/messages`, { clientMessageId: 'm-0-1', text: 'text 0/1 ✓' });
    expect(retry.status).toBe(200);
    expect(retry.body.seq).toBe(3);
    // A new message continues the seqs where the original left off.
    const fresh = await alice.post(`/v1/conversations/${ids[0]}/messages`, { clientMessageId: 'after-import', text: 'new' });
    expect(fresh.status).toBe(201);
    const messages = (await alice.get(`/v1/conversations/${ids[0]}/messages?limit=1000`)).body.messages;
    expect(fresh.body.seq).toBeGreaterThan(messages.at(-2).seq);
    await node!.close();
    node = undefined;
  });

  it('refuses a store that is not empty, and changes nothing', async () => {
    const rowsBefore = eventRows(copy);
    const again = await parley('import', '--data-dir', copy, '--in', exportFile);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/not empty/);
    expect(eventRows(copy)).toEqual(rowsBefore);
  });

  it('refuses a file with a corrupt line, naming the line, and imports nothing', async () => {
    const lines = readFileSync(exportFile, 'utf8').split('\n');
    lines[4] = lines[4]!.slice(0, 20); // line 5: cut in half
    const corrupt = join(files, 'corrupt.ndjson');
    writeFileSync(corrupt, lines.join('\n'));
    const res = await parley('import', '--data-dir', corruptTarget, '--in', corrupt);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/line 5: not JSON/);
    expect(existsSync(join(corruptTarget, 'events.sqlite'))).toBe(false);

    // A well-formed line that breaks the log (a seq gap) is refused too, after earlier lines were read.
    const gap = readFileSync(exportFile, 'utf8').split('\n');
    const at = gap.findIndex((l, i) => i > 3 && l.includes('"kind":"event"') && l.includes('"seq":3,'));
    gap[at] = gap[at]!.replace('"seq":3,', '"seq":9,');
    writeFileSync(corrupt, gap.join('\n'));
    const res2 = await parley('import', '--data-dir', corruptTarget, '--in', corrupt);
    expect(res2.code).toBe(1);
    expect(res2.stderr).toContain(`line ${at + 1}: seq 9 of`);
    expect(existsSync(join(corruptTarget, 'events.sqlite'))).toBe(false);

    // A truncated file (no "end" line) imports nothing.
    writeFileSync(corrupt, readFileSync(exportFile, 'utf8').split('\n').slice(0, 10).join('\n'));
    const res3 = await parley('import', '--data-dir', corruptTarget, '--in', corrupt);
    expect(res3.code).toBe(1);
    expect(res3.stderr).toMatch(/truncated/);
    expect(existsSync(join(corruptTarget, 'events.sqlite'))).toBe(false);
  });
});
