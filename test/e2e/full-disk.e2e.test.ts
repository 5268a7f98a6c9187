/**
 * A full disk is an outage, not a crash: a node whose data directory sits on a small
 * tmpfs keeps running when it fills up — writes answer 503 `unavailable`, never 500,
 * reads still answer, nothing answered `unavailable` is in the log — and once space comes
 * back writes succeed again without a restart; after a final restart every acknowledged
 * message is there, exactly once, at dense seqs.
 *
 * Needs `mount -t tmpfs` (root); where mounting is impossible the test is skipped with
 * the reason printed.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { spawnNode, TEST_METRICS_TOKEN, tokenFor, type SpawnedNode } from '../helpers/node.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir('parley-full-disk-');
const nodes: SpawnedNode[] = [];
let skip: string | undefined;

beforeAll(() => {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir.path], { stdio: 'pipe' });
  } catch (err) {
    skip = `cannot mount a tmpfs (${(err as Error).message.split('\n')[0]})`;
  }
});

afterAll(async () => {
  for (const n of nodes.splice(0)) await n.kill('SIGKILL');
  if (!skip) execFileSync('umount', [dir.path], { stdio: 'pipe' });
  dir.remove();
});

/** Fills the file system but for `leave` bytes (0: to the last byte, until ENOSPC). */
function fill(file: string, leave: number): void {
  const fd = openSync(file, 'a');
  try {
    const { bavail, bsize } = statfsSync(dir.path);
    const big = Math.max(0, bavail * bsize - Math.max(leave, 64 * 1024));
    for (let left = big; left > 0; ) {
      const n = writeSync(fd, Buffer.alloc(Math.min(left, 1024 * 1024)));
      left -= n;
    }
    if (leave > 0) return;
    const chunk = Buffer.alloc(4096);
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
}

describe('full disk', () => {
  it('answers unavailable while the disk is full, keeps reading, and recovers by itself', async (ctx) => {
    if (skip) {
      console.log(`skipped: ${skip}`);
      return ctx.skip();
    }
    const dataDir = join(dir.path, 'data');
    const node = await spawnNode(dataDir, { PARLEY_RATE_PER_CONNECTION: '0', PARLEY_RATE_PER_USER: '0' });
    nodes.push(node);
    const alice = api(node.url, tokenFor('alice'));
    const created = await alice.post('/v1/conversations', { title: 'Full disk', members: ['bob'] });
    expect(created.status).toBe(201);
    const id = created.body.id as string;

    const acked = new Map<string, number>(); // text → seq
    const refused: string[] = [];
    let n = 0;
    const post = async () => {
      const text = `message ${n++}`;
      const r = await alice.post(`/v1/conversations/${id}/messages`, { clientMessageId: `c-${text}`, text });
      if (r.status === 201) acked.set(text, r.body.seq);
      else {
        // The only failure a full disk may cause: 503 unavailable (retryable), never 500.
        expect({ status: r.status, code: r.body.code }).toEqual({ status: 503, code: 'unavailable' });
        refused.push(text);
      }
      return r.status;
    };
    for (let i = 0; i < 20; i++) expect(await post()).toBe(201);
    // The read models hold these before the disk fills (a read waits for this node's writes).
    expect((await alice.get(`/v1/conversations/${id}/messages?limit=1000`)).body.messages).toHaveLength(20);

    // A little room first, so the log and the read models run out of it while in use, then none.
    const filler = join(dir.path, 'filler');
    fill(filler, 192 * 1024);
    for (let i = 0; i < 2000 && statfsSync(dir.path).bavail > 0; i++) await post();
    fill(join(dir.path, 'filler-2'), 0);
    // Posting until the log's file has to grow and cannot (bounded: the WAL has little room left).
    let refusedInARow = 0;
    for (let i = 0; i < 2000 && refusedInARow < 5; i++) refusedInARow = (await post()) === 503 ? refusedInARow + 1 : 0;
    expect(refusedInARow).toBe(5);
    expect(node.process.exitCode).toBeNull();
    expect(node.process.signalCode).toBeNull();
    const metrics = (await api(node.url, TEST_METRICS_TOKEN).get('/metrics')).body as string;
    expect(Number(/^parley_store_write_failures_total(?:\{[^}]*\})? (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(5);

    // Reads answer meanwhile, with (at least) everything applied before the disk filled.
    const page = await alice.get(`/v1/conversations/${id}/messages?limit=1000`);
    expect(page.status).toBe(200);
    const texts = new Set(page.body.messages.map((m: { text: string }) => m.text));
    for (let i = 0; i < 20; i++) expect(texts.has(`message ${i}`)).toBe(true);

    // Space comes back: writes succeed again, no restart.
    rmSync(filler);
    rmSync(join(dir.path, 'filler-2'));
    await eventually(async () => expect(await post()).toBe(201), 30_000, 200);
    for (let i = 0; i < 5; i++) expect(await post()).toBe(201);
    expect(node.process.exitCode).toBeNull();
    // And the read models catch up with everything acknowledged.
    await eventually(async () => {
      const all = await alice.get(`/v1/conversations/${id}/messages?limit=1000`);
      expect(all.body.messages.length).toBe(acked.size);
    }, 30_000, 200);

    // After a restart: every acknowledged message, once, at its seq; nothing refused.
    expect(await node.kill('SIGTERM')).toBe(0);
    nodes.splice(nodes.indexOf(node), 1);
    const again = await spawnNode(dataDir);
    nodes.push(again);
    const { body } = await api(again.url, tokenFor('bob')).get(`/v1/conversations/${id}/messages?limit=1000`);
    const bySeq = new Map<number, string>(body.messages.map((m: { seq: number; text: string }) => [m.seq, m.text]));
    for (const [text, seq] of acked) expect(bySeq.get(seq)).toBe(text);
    const stored = body.messages.map((m: { text: string }) => m.text) as string[];
    expect(new Set(stored).size).toBe(stored.length);
    for (const text of refused) expect(stored).not.toContain(text);
    expect(stored).toHaveLength(acked.size);
    const seqs = body.messages.map((m: { seq: number }) => m.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => seqs[0] + i));
    console.log(`full disk: ${acked.size} acked, ${refused.length} refused with 503 unavailable, all acked present after restart`);
  }, 120_000);
});
