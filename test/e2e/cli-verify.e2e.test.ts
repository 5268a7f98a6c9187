/** `parley verify`: passes on a healthy data directory, names what is wrong otherwise. */
import Database from 'better-sqlite3';
import { execFile } from 'node:child_process';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from '../helpers/http.js';
import { startTestNode, tokenFor, TEST_SECRET } from '../helpers/node.js';
import { tempDir } from '../helpers/temp-dir.js';
import { PARLEY_BIN as BIN } from '../helpers/cli.js';

const exec = promisify(execFile);
const good = tempDir();
const scratch = tempDir();
let conversationId = '';
afterAll(() => {
  good.remove();
  scratch.remove();
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

/** A copy of the good directory to break. */
function copyOfGood(name: string): string {
  const dir = join(scratch.path, name);
  cpSync(good.path, dir, { recursive: true });
  return dir;
}

beforeAll(async () => {
  const node = await startTestNode({ dataDir: good.path });
  const alice = api(node.url, tokenFor('alice'));
  const { body } = await alice.post('/v1/conversations', { title: 'verify me', members: ['bob'] });
  conversationId = body.id;
  for (let i = 0; i < 6; i++) {
    const m = await alice.post(`/v1/conversations/${conversationId}/messages`, { clientMessageId: `v${i}`, text: `hello ${i}` });
    if (i === 1) await api(node.url, tokenFor('bob')).post(`/v1/conversations/${conversationId}/messages/${m.body.messageId}/reactions`, { emoji: '👍' });
  }
  await node.close();
});

describe('parley verify', () => {
  it('passes on a good data directory', async () => {
    const res = await parley('verify', '--data-dir', good.path);
    expect(res.stdout).toMatch(/^verify ok: \d+ streams, \d+ events, \d+ read models/m);
    expect(res.code).toBe(0);
  });

  it('fails and names the stream when an event row is deleted', async () => {
    const dir = copyOfGood('missing-event');
    const db = new Database(join(dir, 'events.sqlite'));
    db.prepare('DELETE FROM events WHERE stream = ? AND seq = 3').run(`conversation-${conversationId}`);
    db.close();
    const res = await parley('verify', '--data-dir', dir);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain(`stream conversation-${conversationId}: seqs are not dense, missing 3`);
    expect(res.stdout).toMatch(/positions have holes/);
    expect(res.stdout).toMatch(/^verify FAILED/m);
  });

  it('fails and names the read model and table when a read model was changed behind its back', async () => {
    const dir = copyOfGood('tampered-read-model');
    const db = new Database(join(dir, 'readmodels.sqlite'));
    const changed = db.prepare("UPDATE messages SET text = 'forged' WHERE conversation_id = ? AND seq = 5").run(conversationId);
    expect(changed.changes).toBe(1);
    db.close();
    const res = await parley('verify', '--data-dir', dir);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain('read model history: table messages differs from a fresh replay');
    expect(res.stdout).toContain('forged');
    expect(res.stdout).not.toContain('read model conversation-list');
  });

  it('exits 1 with a clear message for a directory without a store', async () => {
    const res = await parley('verify', '--data-dir', join(scratch.path, 'nothing-here'));
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/no event store at/);
  });
});
