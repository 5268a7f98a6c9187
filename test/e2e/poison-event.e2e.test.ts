/**
 * A poison event never takes a node down: the projection that cannot apply it stops
 * (reported in /metrics and the admin route) while the node serves everything else; an
 * operator skips it with `parley skip` (or the admin route) and the projection catches
 * up; a node restarted with the poison event in its log starts and listens. Also the
 * regression of issue 10, defect 2: reactions named like inherited properties.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { defineProjection } from '../../projections/index.js';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { startTestNode, TEST_METRICS_TOKEN, tokenFor, TEST_SECRET, type TestNode } from '../helpers/node.js';
import { tempDir } from '../helpers/temp-dir.js';
import { PARLEY_BIN as BIN } from '../helpers/cli.js';

const run = promisify(execFile);
const HOSTILE = ['constructor', '__proto__', 'valueOf', 'toString', 'hasOwnProperty'];

/** A custom read model (as an app would add one) that cannot apply messages starting with "poison". */
const watch = defineProjection({
  name: 'poison-watch',
  version: 1,
  handles: ['MessagePosted'],
  setup: (db) => db.exec('CREATE TABLE IF NOT EXISTS poison_watch (position INTEGER PRIMARY KEY, text TEXT NOT NULL)'),
  truncate: (db) => db.exec('DELETE FROM poison_watch'),
  handle(events, db) {
    for (const e of events) {
      if (e.data.text.startsWith('poison')) throw new Error(`poison-watch cannot apply "${e.data.text}"`);
      db.prepare('INSERT INTO poison_watch VALUES (?, ?)').run(e.position, e.data.text);
    }
  },
});

const dir = tempDir();
let node: TestNode | undefined;
afterAll(async () => {
  await node?.close();
  dir.remove();
});

const start = () => startTestNode({ dataDir: dir.path, projections: [watch] });
const watched = (n: TestNode) => n.runner.db.prepare('SELECT text FROM poison_watch ORDER BY position').pluck().all();

async function projection(n: TestNode, name: string) {
  const { status, body } = await api(n.url, tokenFor('root', { role: 'admin' })).get('/v1/admin/projections');
  expect(status).toBe(200);
  return { head: body.head as number, ...body.projections.find((p: { name: string }) => p.name === name) };
}

async function metric(n: TestNode, name: string, projectionName: string): Promise<number> {
  const text = (await api(n.url, TEST_METRICS_TOKEN).get('/metrics')).body as string;
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`projection="${projectionName}"`));
  return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('poison events', () => {
  it('keep every reaction key a plain key and the node up', async () => {
    node = await start();
    const alice = api(node.url, tokenFor('alice'));
    const bob = api(node.url, tokenFor('bob'));
    const { body: conv } = await alice.post('/v1/conversations', { title: 'keys', members: ['bob'] });
    const { body: msg } = await alice.post(`/v1/conversations/${conv.id}/messages`, { clientMessageId: 'k1', text: 'react to me' });
    for (const emoji of HOSTILE) {
      expect((await bob.post(`/v1/conversations/${conv.id}/messages/${msg.messageId}/reactions`, { emoji })).status).toBe(200);
      expect((await alice.post(`/v1/conversations/${conv.id}/messages/${msg.messageId}/reactions`, { emoji })).status).toBe(200);
    }
    expect((await bob.delete(`/v1/conversations/${conv.id}/messages/${msg.messageId}/reactions/constructor`)).status).toBe(200);
    const { status, body } = await alice.get(`/v1/conversations/${conv.id}/messages`);
    expect(status).toBe(200);
    const reactions = body.messages[0].reactions;
    expect(Object.keys(reactions).sort()).toEqual([...HOSTILE].sort());
    for (const emoji of HOSTILE) expect(reactions[emoji]).toEqual(emoji === 'constructor' ? ['alice'] : ['bob', 'alice']);
    expect((await api(node.url).get('/health')).status).toBe(200);
    for (const name of ['history', 'conversation-list', 'analytics', 'search', 'poison-watch']) {
      expect((await projection(node, name)).state).toBe('running');
    }
  });

  it('stop one projection, which resumes after `parley skip`; a restart with one in the log still listens', async () => {
    node ??= await start();
    let alice = api(node.url, tokenFor('alice'));
    const { body: conv } = await alice.post('/v1/conversations', { title: 'poison', members: ['bob'] });
    const post = (text: string) => alice.post(`/v1/conversations/${conv.id}/messages`, { clientMessageId: text, text });
    expect((await post('before')).status).toBe(201);
    expect((await post('poison pill')).status).toBe(201);

    // The node stays up and serves everything else, reading its own writes.
    expect((await post('after')).status).toBe(201);
    const history = await alice.get(`/v1/conversations/${conv.id}/messages`);
    expect(history.status).toBe(200);
    expect(history.body.messages.map((m: { text: string }) => m.text)).toEqual(['before', 'poison pill', 'after']);
    expect((await alice.get('/v1/search?q=pill')).body.hits).toHaveLength(1);

    // Reported: state and the event it stopped on, the error metric, the failed gauge, the lag.
    const failed = await eventually(async () => {
      const p = await projection(node!, 'poison-watch');
      expect(p.state).toBe('failed');
      return p;
    });
    expect(failed.failure).toMatchObject({ eventType: 'MessagePosted', stream: `conversation-${conv.id}` });
    expect(failed.failure.error).toContain('cannot apply "poison pill"');
    expect(failed.checkpoint).toBe(failed.failure.position - 1);
    expect(failed.lag).toBeGreaterThanOrEqual(2);
    expect((await projection(node, 'history')).state).toBe('running');
    expect(await metric(node, 'parley_projection_failed', 'poison-watch')).toBe(1);
    expect(await metric(node, 'parley_projection_failed', 'history')).toBe(0);
    expect(await metric(node, 'parley_projection_errors_total', 'poison-watch')).toBeGreaterThanOrEqual(1);
    expect(await metric(node, 'parley_projection_lag_events', 'poison-watch')).toBeGreaterThanOrEqual(2);
    const poisonAt = failed.failure.position as number;

    // The operator's command, from another process, while the node runs.
    const cli = await run(
      process.execPath,
      [BIN, 'skip', '--data-dir', dir.path, '--projection', 'poison-watch', '--position', String(poisonAt), '--reason', 'test poison'],
      { env: { ...process.env, PARLEY_JWT_SECRET: TEST_SECRET } },
    );
    expect(cli.stdout).toContain(`skip recorded: poison-watch passes over position ${poisonAt} (MessagePosted in conversation-${conv.id})`);
    const resumed = await eventually(async () => {
      const p = await projection(node!, 'poison-watch');
      expect(p.state).toBe('running');
      return p;
    }, 20_000);
    expect(resumed).toMatchObject({ failure: null, skipped: [poisonAt], lag: 0 });
    expect(await metric(node, 'parley_projection_failed', 'poison-watch')).toBe(0);
    expect(watched(node)).toEqual(['react to me', 'before', 'after']);
    const listed = await run(process.execPath, [BIN, 'skip', '--list', '--json', '--data-dir', dir.path]);
    expect(JSON.parse(listed.stdout)).toEqual([{ projection: 'poison-watch', position: poisonAt, reason: 'test poison', at: expect.any(Number) }]);

    // Another poison event, and a restart with it in the log: the node starts and listens.
    expect((await post('poison again')).status).toBe(201);
    await eventually(async () => expect((await projection(node!, 'poison-watch')).state).toBe('failed'));
    await node.close();
    node = await start();
    alice = api(node.url, tokenFor('alice'));
    expect((await api(node.url).get('/health')).status).toBe(200);
    const again = await projection(node, 'poison-watch');
    expect(again).toMatchObject({ state: 'failed', failure: { eventType: 'MessagePosted' } });
    expect((await post('after restart')).status).toBe(201);
    expect((await alice.get(`/v1/conversations/${conv.id}/messages`)).body.messages.at(-1).text).toBe('after restart');

    // A running node can be told over HTTP too; the skip takes effect at once.
    const admin = api(node.url, tokenFor('root', { role: 'admin' }));
    expect((await api(node.url, tokenFor('alice')).post('/v1/admin/projections/poison-watch/skip', { position: again.failure.position })).status).toBe(403);
    const skipped = await admin.post('/v1/admin/projections/poison-watch/skip', { position: again.failure.position, reason: 'second' });
    expect(skipped.status).toBe(200);
    expect(skipped.body).toMatchObject({ projection: 'poison-watch', position: again.failure.position, reason: 'second' });
    await eventually(async () => expect(await projection(node!, 'poison-watch')).toMatchObject({ state: 'running', lag: 0 }));
    expect(watched(node)).toEqual(['react to me', 'before', 'after', 'after restart']);
    expect((await admin.post('/v1/admin/projections/no-such/skip', { position: 1 })).status).toBe(400);
  });
});
