/**
 * What one idle authenticated socket costs a node, and what holds it: N clients connect
 * (bench/load/idle.ts) and stay idle; the node's heap after a full GC (through the
 * inspector: `HeapProfiler.collectGarbage`, `Runtime.getHeapUsage`) and its RSS are read
 * before and after, and two heap snapshots are diffed by object kind, per socket.
 * For A/B work on per-socket memory: the heap figure after GC is steady run to run,
 * unlike RSS without a GC (the connections scenario's figure).
 *
 *   npx tsx bench/idle-memory.ts [sockets = 2000] [tree = this one] [tree …]
 *   SNAPSHOTS=/tmp/dir npx tsx bench/idle-memory.ts …   # also the object kinds per socket
 *   SAMPLE=1 npx tsx bench/idle-memory.ts …              # also who allocates while connecting
 *   STEPS=2000,10000,19000 npx tsx bench/idle-memory.ts 0 …  # RSS split at several counts
 *
 * Each tree is a checkout whose dist/ is built (this tree's is rebuilt first), or `ws` for
 * the bare ws peer; several are measured one after the other in the same run.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { collectGarbage, inspector, type Inspector } from './inspector.js';
import { BENCH_METRICS_TOKEN, BENCH_SECRET } from './jwt.js';
import { cleanupAll, freePort, rssOf, startLoad, startParley, tempDir, track } from './procs.js';

const count = Number(process.argv[2] ?? 2000);
const here = resolve(fileURLToPath(new URL('..', import.meta.url)));
const trees = process.argv.length > 3 ? process.argv.slice(3).map((t) => (t === 'ws' ? t : resolve(t))) : [here];
/** A dir: also diff heap snapshots by object kind (kept there as after.heapsnapshot). */
const SNAPSHOTS = process.env.SNAPSHOTS;
/** SAMPLE=1: also where the bytes allocated while connecting come from, garbage included. */
const SAMPLE = process.env.SAMPLE === '1';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


/** RSS split, without a GC: the main isolate's heap (V8's own figures), smaps' kinds. */
async function split(cdp: Inspector, pid: number): Promise<Record<string, number>> {
  const r = await cdp.call('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true });
  const mu = JSON.parse(r.result.value as string) as Record<string, number>;
  const smaps = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(smaps)?.[1] ?? NaN) * 1024;
  return { rss: rssOf(pid), anon: kb('Anonymous'), file: kb('Rss') - kb('Anonymous'), heapTotal: mu.heapTotal!, heapUsed: mu.heapUsed!, external: mu.external!, arrayBuffers: mu.arrayBuffers! };
}

/**
 * STEPS=n1,n2,…: opens sockets up to each count in turn, settles 3 s and prints what the
 * RSS consists of at each (no GC), then the same after a full GC: where the per-socket
 * growth goes between counts, and how much of it is garbage.
 */
async function steps(tree: string, counts: number[]): Promise<void> {
  const node = await startNode(tree);
  const load = startLoad('idle');
  const KiB = (b: number) => (b / 1024).toFixed(0).padStart(8);
  const show = (label: string, m: Record<string, number>) =>
    console.log(`${label.padEnd(14)} ${Object.entries(m).map(([k, v]) => `${k} ${KiB(v)}`).join('  ')}  (KiB)`);
  try {
    await sleep(1000);
    show('start', await split(node.cdp, node.pid));
    let open = 0;
    for (const n of counts) {
      const r = await load.request<{ opened: number }>(
        { cmd: 'open', system: tree === 'ws' ? 'ws' : 'parley', url: node.url, count: n - open, startIndex: open, localAddresses: ['127.0.0.2', '127.0.0.3'], deflate: true },
        300_000,
      );
      open = r.opened;
      await sleep(3000);
      show(`${open} open`, await split(node.cdp, node.pid));
      await heapAfterGc(node.cdp);
      show(`  after GC`, await split(node.cdp, node.pid));
    }
  } finally {
    await load.request({ cmd: 'close' }).catch(() => undefined);
    await load.stop();
    await node.stop();
  }
}

/**
 * Where the bytes allocated while the sockets connect come from, garbage included (V8's
 * sampling heap profiler keeping samples of objects collected since): bytes per socket by
 * function, the top `top`.
 */
async function allocationsBy(cdp: Inspector, sockets: number, top = 25): Promise<void> {
  const { profile } = await cdp.call('HeapProfiler.stopSampling');
  const by = new Map<string, number>();
  const walk = (node: any) => {
    const f = node.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${String(f.url).replace(/^.*node_modules\//, '').replace(/^file:\/\/\/work\/[^/]+\//, '')}:${f.lineNumber + 1}`;
    by.set(key, (by.get(key) ?? 0) + node.selfSize);
    for (const c of node.children) walk(c);
  };
  walk(profile.head);
  const all = [...by.values()].reduce((a, b) => a + b, 0);
  console.log(`  allocated while connecting: ${(all / sockets).toFixed(0)} B per socket; by function (self):`);
  for (const [k, b] of [...by].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${(b / sockets).toFixed(0).padStart(6)} B  ${k}`);
}

async function heapAfterGc(cdp: Inspector): Promise<number> {
  await collectGarbage(cdp);
  return (await cdp.call('Runtime.getHeapUsage')).usedSize as number;
}

/** Self size and count per "type:name" of every object in a heap snapshot. */
async function snapshot(cdp: Inspector, file: string): Promise<Map<string, { n: number; bytes: number }>> {
  const out = createWriteStream(file);
  cdp.on('HeapProfiler.addHeapSnapshotChunk', (p) => out.write(p.chunk));
  await cdp.call('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
  await new Promise((r) => out.end(r));
  const snap = JSON.parse(readFileSync(file, 'utf8'));
  const meta = snap.snapshot.meta;
  const fields: string[] = meta.node_fields;
  const types: string[] = meta.node_types[0];
  const [ti, ni, si] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const by = new Map<string, { n: number; bytes: number }>();
  const nodes: number[] = snap.nodes;
  for (let i = 0; i < nodes.length; i += fields.length) {
    const type = types[nodes[i + ti!]!]!;
    const name = type === 'string' || type === 'concatenated string' || type === 'sliced string' ? '' : String(snap.strings[nodes[i + ni!]!]).slice(0, 60);
    const key = `${type}:${name}`;
    const e = by.get(key) ?? { n: 0, bytes: 0 };
    e.n += 1;
    e.bytes += nodes[i + si!]!;
    by.set(key, e);
  }
  return by;
}

async function startNode(tree: string): Promise<{ pid: number; url: string; cdp: Inspector; stop: () => Promise<void> }> {
  if (tree === here) {
    // Builds dist/ once; the node it starts is not needed.
    const probe = await startParley();
    await probe.stop();
  }
  const port = await freePort();
  // `ws`: the bare ws peer (bench/peers/ws-server.ts), the floor to compare with.
  const args = tree === 'ws' ? ['--import', 'tsx', join(here, 'bench/peers/ws-server.ts')] : [join(tree, 'bin/parley.js'), 'serve'];
  const child = spawn(process.execPath, ['--inspect=127.0.0.1:0', ...args], {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: tempDir(),
      PARLEY_JWT_SECRET: BENCH_SECRET,
      LOG_LEVEL: 'warn',
      PARLEY_RATE_PER_CONNECTION: '0',
      PARLEY_RATE_PER_USER: '0',
      PARLEY_METRICS_TOKEN: BENCH_METRICS_TOKEN,
      PARLEY_DRAIN_SECONDS: '0',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const { exited, stderr } = track(child, 'parley');
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (i > 300) throw new Error(`node did not start: ${stderr()}`);
    const ok = await fetch(`${url}/health`).then((r) => r.ok, () => false);
    if (ok && /ws:\/\/\S+/.test(stderr())) break;
    await sleep(100);
  }
  const cdp = await inspector(/ws:\/\/\S+/.exec(stderr())![0]);
  return {
    pid: child.pid!,
    url,
    cdp,
    stop: async () => {
      cdp.close();
      child.kill('SIGKILL');
      await exited;
    },
  };
}

async function measure(tree: string): Promise<void> {
  const node = await startNode(tree);
  const load = startLoad('idle');
  try {
    const dir = tempDir('parley-idle-mem-');
    const heap0 = await heapAfterGc(node.cdp);
    const rss0 = rssOf(node.pid);
    // A snapshot grows the RSS for good: taken only when asked for, after the figures.
    const before = SNAPSHOTS ? await snapshot(node.cdp, join(dir, 'before.heapsnapshot')) : new Map();
    if (SAMPLE) await node.cdp.call('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    const opened = await load.request<{ opened: number; failed: number; firstError?: string }>(
      { cmd: 'open', system: tree === 'ws' ? 'ws' : 'parley', url: node.url, count, startIndex: 0, localAddresses: ['127.0.0.2', '127.0.0.3'], deflate: true },
      300_000,
    );
    if (opened.failed > 0) console.log(`${opened.failed} failed: ${opened.firstError}`);
    await sleep(1000);
    const heap1 = await heapAfterGc(node.cdp);
    const rss1 = rssOf(node.pid);
    const n = opened.opened;
    console.log(`\n${tree}: ${n} idle sockets: heap after GC ${((heap1 - heap0) / n).toFixed(0)} B/socket, RSS ${((rss1 - rss0) / 1024 / n).toFixed(2)} KiB/socket`);
    if (SAMPLE) await allocationsBy(node.cdp, n);
    if (!SNAPSHOTS) return;
    const after = await snapshot(node.cdp, join(SNAPSHOTS, 'after.heapsnapshot'));
    const diff = [...after].map(([k, v]) => ({ k, n: (v.n - (before.get(k)?.n ?? 0)) / n, b: (v.bytes - (before.get(k)?.bytes ?? 0)) / n }));
    diff.sort((a, b) => b.b - a.b);
    for (const d of diff.slice(0, 30)) console.log(`  ${d.b.toFixed(0).padStart(6)} B  ${d.n.toFixed(2).padStart(6)}×  ${d.k}`);
  } finally {
    await load.request({ cmd: 'close' }).catch(() => undefined);
    await load.stop();
    await node.stop();
  }
}

try {
  const counts = process.env.STEPS?.split(',').map(Number);
  for (const tree of trees) await (counts ? steps(tree, counts) : measure(tree));
} finally {
  cleanupAll();
}
