/**
 * The ops commands on a partitioned log (PARLEY_PARTITIONS=3 on one real nats-server,
 * written by a real node, read by the real CLI): stats counts what the log holds, verify
 * passes, rebuild builds the node's read models, replay and skip take cursor tokens and
 * positions, and export → import moves the log to a 3-partition log and to a data
 * directory (1 partition) with every event once and every stream's seqs dense.
 */
import Database from 'better-sqlite3';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtInProjections } from '../../projections/index.js';
import { canonicalRows, columnsOf, projectionTables } from '../../engine/cli/read-model-tables.js';
import { conversationStream, headCursorOf, LogCursor, partitionOf, readAllAfter, type IdempotencyRecord, type StoredEvent } from '../../engine/store/index.js';
import { PARLEY_BIN as BIN } from '../helpers/cli.js';
import { api } from '../helpers/http.js';
import { startNatsServer, type NatsSingle } from '../helpers/nats-server.js';
import { startTestNode, tokenFor, TEST_SECRET } from '../helpers/node.js';
import { tempDir } from '../helpers/temp-dir.js';

const exec = promisify(execFile);
const N = 3;
const id = () => randomUUID().replace(/-/g, '').slice(0, 10).toUpperCase();
const source = `PARLEY_OPS_${id()}`;
const dirs = { node: tempDir('parley-ops-node-'), rebuilt: tempDir('parley-ops-rebuilt-'), sqlite: tempDir('parley-ops-sqlite-'), files: tempDir('parley-ops-files-') };
let nats: NatsSingle;
/** The source log as the node's store reads it (the truth the CLI's answers are checked against). */
let truth: { events: StoredEvent[]; keys: IdempotencyRecord[]; head: LogCursor };
const conversations: string[] = [];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `parley …` on a log: a stream of N partitions on the test's server, or (stream null) DATA_DIR's own store. */
async function parley(log: { stream: string | null; partitions?: number }, ...args: string[]): Promise<Run> {
  const env = { ...process.env, PARLEY_JWT_SECRET: TEST_SECRET, NATS_URL: log.stream ? nats.url : '', PARLEY_STREAM: log.stream ?? '', PARLEY_PARTITIONS: String(log.partitions ?? N) };
  if (!log.stream) delete (env as Record<string, string | undefined>).PARLEY_STREAM;
  try {
    const { stdout, stderr } = await exec(process.execPath, [BIN, ...args], { env, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const onSource = { stream: source };

beforeAll(async () => {
  nats = await startNatsServer();
  const node = await startTestNode({ natsUrls: [nats.url], streamName: source, partitions: N, dataDir: dirs.node.path });
  try {
    const alice = api(node.url, tokenFor('alice'));
    const bob = api(node.url, tokenFor('bob'));
    // Six conversations, more while they all sit in one partition (ids are random).
    const spread = () => new Set(conversations.map((id) => partitionOf(conversationStream(id), N))).size > 1;
    for (let c = 0; c < 6 || (!spread() && c < 30); c++) {
      const created = await alice.post('/v1/conversations', { title: `room ${c}`, members: ['bob'] });
      expect(created.status).toBe(201);
      conversations.push(created.body.id);
      for (let i = 0; i < 4; i++) {
        const m = await (i % 2 ? alice : bob).post(`/v1/conversations/${created.body.id}/messages`, { clientMessageId: `m-${c}-${i}`, text: `text ${c}/${i} ✓` });
        expect(m.status).toBe(201);
        if (i === 1) await bob.post(`/v1/conversations/${created.body.id}/messages/${m.body.messageId}/reactions`, { emoji: '🎉' });
        if (i === 2) await alice.delete(`/v1/conversations/${created.body.id}/messages/${m.body.messageId}`);
      }
      await bob.post(`/v1/conversations/${created.body.id}/read`, { seq: 3 });
    }
    const head = await headCursorOf(node.store);
    const events: StoredEvent[] = [];
    for (let after = LogCursor.start(N); ; ) {
      const page = await readAllAfter(node.store, after, 1000);
      if (page.length === 0) break;
      events.push(...page);
      after = after.advancedBy(page);
    }
    const keys: IdempotencyRecord[] = [];
    for await (const k of node.store.idempotencyRecords()) keys.push(k);
    truth = { events, keys, head };
    // The node's read models hold the whole log before it stops (rebuild is compared with them).
    await node.runner.waitForCursor(head);
  } finally {
    await node.close();
  }
  // The conversations are spread over the partitions, so every command crosses them.
  expect(new Set(conversations.map((c) => partitionOf(conversationStream(c), N))).size).toBeGreaterThan(1);
}, 120_000);

afterAll(async () => {
  await nats?.stop();
  for (const d of Object.values(dirs)) d.remove();
});

/** The events of an export file, with its header. */
function readExport(file: string): { header: Record<string, unknown>; events: StoredEvent[]; keys: IdempotencyRecord[] } {
  const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  return { header: lines[0], events: lines.filter((l) => l.kind === 'event'), keys: lines.filter((l) => l.kind === 'idempotency') };
}

/** Each event once, and each stream's seqs 1..n in the order given. */
function expectWholeLog(events: StoredEvent[]): void {
  const content = (e: StoredEvent) => JSON.stringify([e.stream, e.seq, e.type, e.data, e.metadata]);
  expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
  expect(new Map(events.map((e) => [e.id, content(e)]))).toEqual(new Map(truth.events.map((e) => [e.id, content(e)])));
  const seqs = new Map<string, number[]>();
  for (const e of events) seqs.set(e.stream, [...(seqs.get(e.stream) ?? []), e.seq]);
  for (const [, list] of seqs) expect(list).toEqual(list.map((_, i) => i + 1));
}

/** Every built-in read model's tables in two read-model files, row by row. */
function readModelTables(file: string): Record<string, string[]> {
  const db = new Database(file, { readonly: true });
  try {
    const out: Record<string, string[]> = {};
    for (const p of builtInProjections()) for (const t of projectionTables(p)) out[t] = canonicalRows(db, t, columnsOf(db, t));
    return out;
  } finally {
    db.close();
  }
}

describe('the ops commands on a partitioned log', () => {
  it('stats counts every event, stream and key, with the head and checkpoints as cursor tokens', async () => {
    const r = await parley(onSource, 'stats', '--json', '--data-dir', dirs.node.path);
    expect(r.stderr).toBe('');
    const s = JSON.parse(r.stdout);
    expect(s.partitions).toBe(N);
    expect(s.events).toBe(truth.events.length);
    expect(s.headPosition).toBe(truth.head.encode());
    expect(s.idempotencyRecords).toBe(truth.keys.length);
    expect(s.streams.total).toBe(new Set(truth.events.map((e) => e.stream)).size);
    expect(s.streams.byKind.conversation).toBe(conversations.length);
    const types = new Map<string, number>();
    for (const e of truth.events) types.set(e.type, (types.get(e.type) ?? 0) + 1);
    expect(s.eventsByType).toEqual(Object.fromEntries(types));
    for (const name of ['history', 'conversation-list']) {
      const p = s.projections.find((x: { name: string }) => x.name === name);
      expect(p.checkpoint).toBe(truth.head.encode());
      expect(p.lag).toBe(0);
    }
    const text = await parley(onSource, 'stats', '--data-dir', dirs.node.path);
    expect(text.stdout).toContain(`${truth.events.length} events in`);
    expect(text.stdout).toContain(`head position ${truth.head.encode()}`);
    expect(text.stdout).toMatch(new RegExp(`history +v\\d+ at cursor ${truth.head.encode()}, lag 0 events`));
  });

  it('verify passes on the log and the node read models', async () => {
    const r = await parley(onSource, 'verify', '--data-dir', dirs.node.path);
    expect(r.stdout).not.toContain('problem');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`verify ok: \\d+ streams, ${truth.events.length} events`));
  });

  it('rebuild builds read models equal to the node ones, which verify then passes', async () => {
    const r = await parley(onSource, 'rebuild', '--data-dir', dirs.rebuilt.path);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`of ${N} partitions (up to cursor ${truth.head.encode()})`);
    const node = readModelTables(join(dirs.node.path, 'readmodels.sqlite'));
    expect(Object.values(node).flat().length).toBeGreaterThan(truth.events.length);
    expect(readModelTables(join(dirs.rebuilt.path, 'readmodels.sqlite'))).toEqual(node);
    expect((await parley(onSource, 'verify', '--data-dir', dirs.rebuilt.path)).code).toBe(0);
  });

  it('replay prints a cursor on each line, resumes after any of them, and refuses a position range', async () => {
    const all = await parley(onSource, 'replay');
    expect(all.code).toBe(0);
    const lines = all.stdout.trim().split('\n').map((l) => JSON.parse(l) as StoredEvent & { cursor: string });
    expectWholeLog(lines);
    expect(all.stderr).toContain(`up to cursor ${truth.head.encode()}`);
    for (const k of [0, 7, lines.length - 2]) {
      const rest = await parley(onSource, 'replay', '--after', lines[k]!.cursor);
      expect(rest.stdout.trim().split('\n').map((l) => JSON.parse(l).id)).toEqual(lines.slice(k + 1).map((e) => e.id));
    }
    const upto = await parley(onSource, 'replay', '--upto', lines[9]!.cursor);
    expect(upto.stdout.trim().split('\n').map((l) => JSON.parse(l).id).sort()).toEqual(lines.slice(0, 10).map((e) => e.id).sort());
    const ranged = await parley(onSource, 'replay', '--from-position', '3');
    expect(ranged.code).toBe(2);
    expect(ranged.stderr).toContain('--after/--upto');
    expect((await parley(onSource, 'replay', '--after', '17')).code).toBe(2);
  });

  it('skip finds the event at a position of any partition, and refuses one the log does not have', async () => {
    const target = truth.events.find((e) => e.position % N === 2 && e.type === 'MessagePosted')!;
    const r = await parley(onSource, 'skip', '--projection', 'history', '--position', String(target.position), '--data-dir', dirs.rebuilt.path);
    expect(r.stdout).toContain(`passes over position ${target.position} (MessagePosted in ${target.stream})`);
    expect(r.stdout).toContain('already past');
    const missing = Math.max(...truth.events.map((e) => e.position)) + N * 1000;
    expect((await parley(onSource, 'skip', '--projection', 'history', '--position', String(missing), '--data-dir', dirs.rebuilt.path)).code).toBe(2);
  });

  it('export → import moves the log to a new 3-partition log: every event once, seqs dense, each stream in its partition', async () => {
    const file = join(dirs.files.path, 'source.ndjson');
    expect((await parley(onSource, 'export', '--out', file)).code).toBe(0);
    const exported = readExport(file);
    expect(exported.header).toMatchObject({ kind: 'parley-log', version: 2, partitions: N, cursor: truth.head.encode() });
    expectWholeLog(exported.events);
    expect(exported.keys.length).toBe(truth.keys.length);

    const target = { stream: `PARLEY_OPS_${id()}` };
    const imported = await parley(target, 'import', '--in', file);
    expect(imported.stderr).toBe('');
    expect(imported.code).toBe(0);
    const copy = join(dirs.files.path, 'copy.ndjson');
    expect((await parley(target, 'export', '--out', copy)).code).toBe(0);
    const back = readExport(copy);
    expectWholeLog(back.events);
    for (const e of back.events) expect(e.position % N).toBe(partitionOf(e.stream, N));
    expect(new Set(back.keys.map((k) => JSON.stringify(k)))).toEqual(new Set(exported.keys.map((k) => JSON.stringify(k))));
    expect((await parley(target, 'verify', '--skip-read-models')).code).toBe(0);
    // Not into a log that has events.
    expect((await parley(target, 'import', '--in', file)).stderr).toContain('not empty');
  });

  it('export → import moves the log into a data directory (1 partition), into a 1-partition stream and from there to 3 again', async () => {
    const file = join(dirs.files.path, 'source.ndjson');
    const intoDir = await parley({ stream: null }, 'import', '--in', file, '--data-dir', dirs.sqlite.path);
    expect(intoDir.code).toBe(0);
    expect(intoDir.stdout).toContain(`from a log of ${N} partitions into one of 1`);
    const db = new Database(join(dirs.sqlite.path, 'events.sqlite'), { readonly: true });
    try {
      const rows = db.prepare('SELECT position, stream, seq, id, type, data, metadata FROM events ORDER BY position').all() as Array<Record<string, unknown>>;
      expect(rows.map((r) => r.position)).toEqual(rows.map((_, i) => i + 1));
      expectWholeLog(rows.map((r) => ({ ...r, data: JSON.parse(r.data as string), metadata: JSON.parse(r.metadata as string) }) as StoredEvent));
    } finally {
      db.close();
    }
    expect((await parley({ stream: null }, 'verify', '--skip-read-models', '--data-dir', dirs.sqlite.path)).code).toBe(0);

    const single = { stream: `PARLEY_OPS_${id()}`, partitions: 1 };
    expect((await parley(single, 'import', '--in', file)).code).toBe(0);
    const copy = join(dirs.files.path, 'single.ndjson');
    expect((await parley(single, 'export', '--out', copy)).code).toBe(0);
    const back = readExport(copy);
    expect(back.header).toMatchObject({ version: 1 });
    expectWholeLog(back.events);

    // And back from one partition to three.
    const again = { stream: `PARLEY_OPS_${id()}` };
    const imported = await parley(again, 'import', '--in', copy);
    expect(imported.stdout).toContain(`from a log of 1 partition into one of ${N}`);
    const thrice = join(dirs.files.path, 'again.ndjson');
    expect((await parley(again, 'export', '--out', thrice)).code).toBe(0);
    const events = readExport(thrice).events;
    expectWholeLog(events);
    for (const e of events) expect(e.position % N).toBe(partitionOf(e.stream, N));
  });
});
