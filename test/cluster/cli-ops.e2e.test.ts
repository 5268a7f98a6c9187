/**
 * The ops CLI (export, import, stats, verify) on a cluster's JetStream stream as on a data
 * directory: they go through the EventStore port. A log written by a real node on SQLite
 * goes into JetStream and back out, and comes back the same — on JetStream with the
 * stream's own positions, back in SQLite with the original ones; stats and verify agree
 * on both; a node started on the imported stream answers as the original did, retried
 * client ids included.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from '../helpers/http.js';
import { startNatsServer, type NatsSingle } from '../helpers/nats-server.js';
import { startTestNode, tokenFor, TEST_SECRET, type TestNode } from '../helpers/node.js';
import { tempDir } from '../helpers/temp-dir.js';
import { PARLEY_BIN } from '../helpers/cli.js';

const exec = promisify(execFile);
const streamName = `PARLEY_OPS_${randomUUID().slice(0, 8)}`;
const dirs = [tempDir(), tempDir(), tempDir(), tempDir()];
const [source, back, files, empty] = dirs.map((d) => d.path) as [string, string, string, string];
let nats: NatsSingle;
let node: TestNode | undefined;
const ids: string[] = [];
let before: unknown[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
  // A log with several streams, interleaved, and every kind of record: events with keys,
  // a repeated command (a key recorded once), a deleted message, a reaction, a read marker.
  node = await startTestNode({ dataDir: source });
  const alice = api(node.url, tokenFor('alice'));
  const bob = api(node.url, tokenFor('bob'));
  for (let c = 0; c < 2; c++) ids.push((await alice.post('/v1/conversations', { title: `ops ${c}`, members: ['bob'] })).body.id);
  for (let i = 0; i < 6; i++) {
    const id = ids[i % 2]!;
    const m = await (i % 3 ? alice : bob).post(`/v1/conversations/${id}/messages`, { clientMessageId: `m-${i}`, text: `text ${i} ✓` });
    expect(m.status).toBe(201);
    if (i === 2) await bob.post(`/v1/conversations/${id}/messages/${m.body.messageId}/reactions`, { emoji: '🎉' });
    if (i === 3) await alice.delete(`/v1/conversations/${id}/messages/${m.body.messageId}`);
  }
  expect((await bob.post(`/v1/conversations/${ids[0]}/messages`, { clientMessageId: 'm-0', text: 'text 0 ✓' })).status).toBe(200);
  await bob.post(`/v1/conversations/${ids[1]}/read`, { seq: 3 });
  before = await answers(node);
  await node.close();
  node = undefined;
}, 120_000);

afterAll(async () => {
  await node?.destroy();
  await nats?.stop();
  for (const d of dirs) d.remove();
});

async function parley(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return parleyOn(streamName, ...args);
}

async function parleyOn(stream: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [PARLEY_BIN, ...args], {
      env: { ...process.env, PARLEY_JWT_SECRET: TEST_SECRET, PARLEY_STREAM: stream, NATS_URL: '' },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function answers(n: TestNode) {
  const out: unknown[] = [];
  for (const user of ['alice', 'bob']) {
    const client = api(n.url, tokenFor(user));
    out.push((await client.get('/v1/conversations')).body);
    for (const id of ids) out.push((await client.get(`/v1/conversations/${id}/messages?limit=1000`)).body);
  }
  return out;
}

function lines(file: string): Array<Record<string, unknown>> {
  return readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

/** A log file without what a store chooses for itself: the export time, and positions (with the head). */
function withoutPositions(file: string): unknown[] {
  return lines(file).map(({ exportedAt: _t, head: _h, position: _p, ...rest }) => rest);
}

// Each step spawns the CLI a few times (about 2 s each when the machine is busy).
describe('the ops CLI on a JetStream stream', { timeout: 120_000 }, () => {
  const fromSqlite = join(files, 'sqlite.ndjson');
  const fromJetStream = join(files, 'jetstream.ndjson');
  const backToSqlite = join(files, 'back.ndjson');

  it('exports from SQLite, imports into JetStream and exports the same log again', async () => {
    const exported = await parley('export', '--data-dir', source, '--out', fromSqlite);
    expect(exported.code, exported.stderr).toBe(0);
    const imported = await parley('import', '--nats', nats.url, '--in', fromSqlite);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toMatch(new RegExp(`^imported \\d+ events and \\d+ idempotency records from .* into JetStream stream ${streamName}`));
    expect(imported.stdout).toContain('positions given by the jetstream store');

    const again = await parley('export', '--nats', nats.url, '--out', fromJetStream);
    expect(again.code, again.stderr).toBe(0);
    expect(withoutPositions(fromJetStream)).toEqual(withoutPositions(fromSqlite));
    const events = lines(fromJetStream).filter((l) => l.kind === 'event');
    expect(events.length).toBeGreaterThan(10);
    expect(lines(fromJetStream).filter((l) => l.kind === 'idempotency').length).toBeGreaterThanOrEqual(10);
    const positions = events.map((e) => e.position as number);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    // The head is the stream's: past the last event when key-only envelopes (the imported keys) follow it.
    expect(lines(fromJetStream)[0]!.head).toBeGreaterThanOrEqual(positions.at(-1)!);
  });

  it('comes back into SQLite with the original positions: the very same file', async () => {
    const imported = await parley('import', '--data-dir', back, '--in', fromJetStream);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toContain('positions given by the sqlite store');
    expect((await parley('export', '--data-dir', back, '--out', backToSqlite)).code).toBe(0);
    const strip = (file: string) => lines(file).map(({ exportedAt: _t, ...rest }) => rest);
    expect(strip(backToSqlite)).toEqual(strip(fromSqlite));
  });

  it('refuses to import into a stream that is not empty, and a bad file into an empty one, appending nothing', async () => {
    const res = await parley('import', '--nats', nats.url, '--in', fromSqlite);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/not empty/);
    const after = join(files, 'after-refusal.ndjson');
    expect((await parley('export', '--nats', nats.url, '--out', after)).code).toBe(0);
    expect(withoutPositions(after)).toEqual(withoutPositions(fromSqlite));

    // The last line is checked before the first append: a truncated file leaves the stream empty.
    const truncated = join(files, 'truncated.ndjson');
    writeFileSync(truncated, readFileSync(fromSqlite, 'utf8').split('\n').slice(0, -2).join('\n'));
    const other = `${streamName}_B`;
    const bad = await parleyOn(other, 'import', '--nats', nats.url, '--in', truncated);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/truncated/);
    const stats = JSON.parse((await parleyOn(other, 'stats', '--json', '--nats', nats.url, '--data-dir', empty)).stdout);
    expect([stats.events, stats.idempotencyRecords, stats.headPosition]).toEqual([0, 0, 0]);
  });

  it('counts the same in stats on both stores', async () => {
    const onSqlite = JSON.parse((await parley('stats', '--json', '--data-dir', source)).stdout);
    const stats = await parley('stats', '--json', '--nats', nats.url, '--data-dir', empty);
    expect(stats.code, stats.stderr).toBe(0);
    const onJetStream = JSON.parse(stats.stdout);
    expect(onJetStream.store).toBe('jetstream');
    for (const field of ['events', 'idempotencyRecords', 'streams', 'eventsByType']) expect(onJetStream[field], field).toEqual(onSqlite[field]);
    expect(onJetStream.events).toBe(lines(fromSqlite).filter((l) => l.kind === 'event').length);
    expect(onJetStream.files).toEqual({});
    expect(onJetStream.projections.every((p: { checkpoint: unknown }) => p.checkpoint === null)).toBe(true);
  });

  it('verifies the imported log, and a node on it answers as the original did, read models included', async () => {
    const logOnly = await parley('verify', '--nats', nats.url, '--data-dir', empty);
    expect(logOnly.stdout, logOnly.stderr).toMatch(/^verify ok: \d+ streams, \d+ events, \d+ read models in JetStream stream/m);
    expect(logOnly.stdout).toContain('note: no read models');

    node = await startTestNode({ natsUrls: [nats.url], streamName });
    expect(await answers(node)).toEqual(before);
    // A retried client message id is still a duplicate: the key came along.
    const retry = await api(node.url, tokenFor('alice')).post(`/v1/conversations/${ids[0]}/messages`, { clientMessageId: 'm-2', text: 'text 2 ✓' });
    expect(retry.status).toBe(200);
    const withReadModels = await parley('verify', '--nats', nats.url, '--data-dir', node.dataDir);
    expect(withReadModels.stdout, withReadModels.stderr).toMatch(/^verify ok: \d+ streams, \d+ events, \d+ read models/m);
    expect(withReadModels.stdout).not.toContain('note: no read models');
    expect(withReadModels.code).toBe(0);
  });

  it('fails verify on a seq gap in the JetStream log, naming the stream', async () => {
    // An envelope that skips seqs, straight into the stream (a foreign writer): it stands, so readers see the gap.
    const stream = `conversation-${ids[1]}`;
    const version = lines(fromJetStream).filter((l) => l.stream === stream).length;
    const nc = await connect({ servers: nats.url });
    try {
      const event = { id: randomUUID(), type: 'MessageReacted', data: {}, metadata: { actor: 'x', commandId: 'x', correlationId: 'x', at: Date.now(), schemaVersion: 1 } };
      await jetstream(nc).publish(`parley.log.${streamName}.${stream}`, JSON.stringify({ v: 1, stream, firstSeq: version + 3, events: [event] }));
    } finally {
      await nc.close();
    }
    const res = await parley('verify', '--nats', nats.url, '--skip-read-models');
    expect(res.stdout).toContain(`problem: stream ${stream}: seqs are not dense, missing ${version + 1}..${version + 2}`);
    expect(res.stdout).toMatch(/^verify FAILED: 1 problem in JetStream stream/m);
    expect(res.code).toBe(1);
  });
});
