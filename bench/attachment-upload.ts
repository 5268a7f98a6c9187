/**
 * Attachment upload cost on one in-process node (local blobs): MB/s and the node's heap
 * growth while a file streams in, so "never the whole file in memory" is measured, not
 * assumed. Run: `npx tsx bench/attachment-upload.ts [megabytes=20] [rounds=3]`.
 * Each round uploads different bytes (no dedup short cut).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signToken, startNode } from '../engine/index.js';
import { BENCH_SECRET } from './jwt.js';

const megabytes = Number(process.argv[2] ?? 20);
const rounds = Number(process.argv[3] ?? 3);
const dataDir = mkdtempSync(join(tmpdir(), 'parley-bench-attach-'));
const node = await startNode({ port: 0, host: '127.0.0.1', dataDir, jwtSecret: BENCH_SECRET, logLevel: 'warn', env: { PARLEY_ATTACHMENT_MAX_BYTES: String((megabytes + 1) * 1024 * 1024) }, drainSeconds: 0 });
const token = signToken(BENCH_SECRET, { sub: 'bench' });
try {
  const created = await fetch(`${node.url}/v1/conversations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'bench', members: [] }),
  }).then((r) => r.json() as Promise<{ id: string }>);
  for (let round = 1; round <= rounds; round++) {
    const body = Buffer.alloc(megabytes * 1024 * 1024, round);
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    let heapPeak = heapBefore;
    const sampler = setInterval(() => (heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed)), 5);
    const started = performance.now();
    const res = await fetch(`${node.url}/v1/conversations/${created.id}/attachments?name=r${round}.bin`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
      body: new Uint8Array(body),
    });
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    if (res.status !== 201) throw new Error(`upload answered ${res.status}: ${await res.text()}`);
    // The client's copy of the body is in this process too: the growth beyond it is the node's.
    console.log(`round ${round}: ${megabytes} MiB in ${seconds.toFixed(2)} s = ${(megabytes / seconds).toFixed(1)} MiB/s (incl. fsync); heap peak +${((heapPeak - heapBefore) / 1024 / 1024).toFixed(1)} MiB over the start`);
  }
} finally {
  await node.close();
  rmSync(dataDir, { recursive: true, force: true });
}
