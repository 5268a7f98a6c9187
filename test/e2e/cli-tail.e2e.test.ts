/**
 * `parley tail` against a real node's admin feed (child processes both): it filters, and
 * when the node is killed and restarted it reconnects and resumes after the last position
 * it printed, with nothing missed and nothing printed twice.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { spawnNode, tokenFor, type SpawnedNode } from '../helpers/node.js';
import { tempDir } from '../helpers/temp-dir.js';
import { PARLEY_BIN as BIN } from '../helpers/cli.js';

const exec = promisify(execFile);
const dir = tempDir();
const ADMIN = tokenFor('ops', { role: 'admin' });
let node: SpawnedNode | undefined;
let tailer: ChildProcess | undefined;
afterAll(async () => {
  tailer?.kill('SIGKILL');
  await node?.kill('SIGKILL');
  dir.remove();
});

function startTail(args: string[]) {
  const child = spawn(process.execPath, [BIN, 'tail', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '', child, exited: new Promise<number | null>((r) => child.once('exit', (code) => r(code))) };
  child.stdout!.on('data', (d) => (out.stdout += d));
  child.stderr!.on('data', (d) => (out.stderr += d));
  return out;
}

const events = (stdout: string) => stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));

describe('parley tail', () => {
  it('follows the feed filtered by conversation and type, and resumes after a node restart', async () => {
    node = await spawnNode(dir.path);
    const port = new URL(node.url).port;
    let alice = api(node.url, tokenFor('alice'));
    const mine = (await alice.post('/v1/conversations', { title: 'tailed', members: ['bob'] })).body.id;
    const other = (await alice.post('/v1/conversations', { title: 'not tailed', members: ['bob'] })).body.id;
    await alice.post(`/v1/conversations/${mine}/messages`, { clientMessageId: 't1', text: 'one' });
    await alice.post(`/v1/conversations/${other}/messages`, { clientMessageId: 'o1', text: 'elsewhere' });

    const t = startTail(['--url', node.url, '--token', ADMIN, '--conversation', mine, '--type', 'MessagePosted,MessageDeleted']);
    tailer = t.child;
    await eventually(() => expect(events(t.stdout)).toHaveLength(1), 15_000);
    const m2 = (await alice.post(`/v1/conversations/${mine}/messages`, { clientMessageId: 't2', text: 'two' })).body;
    await alice.post(`/v1/conversations/${mine}/messages/${m2.messageId}/reactions`, { emoji: '👋' }); // filtered out
    await alice.delete(`/v1/conversations/${mine}/messages/${m2.messageId}`);
    await eventually(() => expect(events(t.stdout).map((e) => e.type)).toEqual(['MessagePosted', 'MessagePosted', 'MessageDeleted']), 15_000);

    await node.kill('SIGKILL');
    node = await spawnNode(dir.path, { PORT: port });
    alice = api(node.url, tokenFor('alice'));
    await alice.post(`/v1/conversations/${mine}/messages`, { clientMessageId: 't3', text: 'three' });
    await alice.post(`/v1/conversations/${other}/messages`, { clientMessageId: 'o2', text: 'still elsewhere' });
    await eventually(() => expect(events(t.stdout)).toHaveLength(4), 20_000);

    const seen = events(t.stdout);
    expect(seen.map((e) => e.data.text ?? null)).toEqual(['one', 'two', null, 'three']);
    expect(seen.every((e) => e.stream === `conversation-${mine}`)).toBe(true);
    const positions = seen.map((e) => e.position);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(new Set(positions).size).toBe(positions.length);
    expect(t.stderr).toMatch(/cannot reach|feed interrupted/);

    t.child.kill('SIGTERM');
    expect(await t.exited).toBe(0);
    expect(t.stderr).toMatch(/tailed 4 events from .*, last position \d+, \d+ reconnects/);
    tailer = undefined;
  });

  it('stops after --count events and exits 0', async () => {
    const { stdout, stderr } = await exec(process.execPath, [BIN, 'tail', '--url', node!.url, '--token', ADMIN, '--type', 'ConversationCreated', '--count', '2']);
    expect(events(stdout).map((e) => e.data.title)).toEqual(['tailed', 'not tailed']);
    expect(stderr).toMatch(/tailed 2 events/);
  });

  it('refuses a token without the admin role (exit 1) and a missing token (exit 2)', async () => {
    const refused = await exec(process.execPath, [BIN, 'tail', '--url', node!.url, '--token', tokenFor('alice')]).catch((e) => e);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/refused the token \(403\).*admin token/);
    const env = { ...process.env };
    delete env.PARLEY_TOKEN;
    const missing = await exec(process.execPath, [BIN, 'tail', '--url', node!.url], { env }).catch((e) => e);
    expect(missing.code).toBe(2);
  });
});
