/**
 * Parley alone at one fixed offered rate (the fanout scenario's load: rooms × 10 members,
 * one sender per room, 100-byte texts), its CPU per post over a few measured windows and
 * that CPU split by the node's threads, read from /proc/<pid>/task/<tid>/stat (Linux):
 * the main thread (tid = pid), the read-model thread (the one at nice > 0), the store's
 * writer (the busiest of the rest) and V8's and libuv's own threads (GC, compiler, pool).
 * For A/B work on the node's CPU: quicker and steadier than a fanout run with its peers.
 *
 *   npx tsx bench/cpu-split.ts [posts/s = 500] [windows = 3] [rooms = 50]
 *   PROFILE_DIR=/tmp/p npx tsx bench/cpu-split.ts …   # also run the node under --cpu-prof
 *
 * First it prints the node's CPU while idle, second by second for 8 s after the clients
 * connected. Each window is 2 s of warm-up and 10 s measured; it prints each window and the median,
 * per post the write calls and bytes per thread (sockets and files alike, /proc/…/io), and
 * how long appends waited on average and how much of it a transaction in the writer took.
 * With PROFILE_DIR it also prints each window's bounds on the monotonic clock (µs, as a
 * .cpuprofile's timestamps), so a profile can be read over the measured windows only.
 */
import { execSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { PhaseResult } from './load/fanout.js';
import { histograms } from './node-metrics.js';
import { cleanupAll, startLoad, startParley } from './procs.js';

const rate = Number(process.argv[2] ?? 500);
const windows = Number(process.argv[3] ?? 3);
const roomCount = Number(process.argv[4] ?? 50);
const WARMUP_MS = 2000;
const MEASURED_MS = 10_000;
const IDLE_SECONDS = 8;
const clockTicks = Number(execSync('getconf CLK_TCK').toString().trim()) || 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU seconds so far per thread of `pid`: 'main', 'read-model' (niced) or the tid. */
function cpuByThread(pid: number, part: 'all' | 'sys' = 'all'): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    // Fields after the command name start at state (field 3): utime 14, stime 15, nice 19.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const key = Number(tid) === pid ? 'main' : Number(fields[16]) > 0 ? 'read-model' : tid;
    out.set(key, ((part === 'all' ? Number(fields[11]) : 0) + Number(fields[12])) / clockTicks);
  }
  return out;
}

/**
 * Write calls and bytes so far per thread (sockets and files alike), from
 * /proc/<pid>/task/<tid>/io, keyed as cpuByThread keys CPU: counts a busy machine does not
 * blur, unlike CPU time, so small A/B differences in socket writes, WAL frames and
 * checkpoint copies per post show up, and which thread made them.
 */
function writesByThread(pid: number): Map<string, { calls: number; bytes: number }> {
  const out = new Map<string, { calls: number; bytes: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let io: string;
    let stat: string;
    try {
      io = readFileSync(`/proc/${pid}/task/${tid}/io`, 'utf8');
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue;
    }
    const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)`, 'm').exec(io)?.[1] ?? 0);
    const nice = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    const key = Number(tid) === pid ? 'main' : nice > 0 ? 'read-model' : `thread ${tid}`;
    out.set(key, { calls: field('syscw'), bytes: field('wchar') });
  }
  return out;
}

/** Per thread with writes in the window: write calls and KiB per post. */
function writesPerPost(before: Map<string, { calls: number; bytes: number }>, after: Map<string, { calls: number; bytes: number }>, posts: number): string {
  const parts: string[] = [];
  let calls = 0;
  let bytes = 0;
  for (const [k, v] of after) {
    const b = before.get(k) ?? { calls: 0, bytes: 0 };
    calls += v.calls - b.calls;
    bytes += v.bytes - b.bytes;
    if (v.calls - b.calls >= posts / 10) parts.push(`${k} ${((v.calls - b.calls) / posts).toFixed(1)}/${((v.bytes - b.bytes) / 1024 / posts).toFixed(1)}`);
  }
  return `${(calls / posts).toFixed(1)} write calls, ${(bytes / 1024 / posts).toFixed(1)} KiB written per post (calls/KiB: ${parts.join(', ')})`;
}

const WAIT_METRICS = ['parley_append_seconds', 'parley_store_transaction_seconds', 'parley_store_batch_appends'];
type Histograms = Awaited<ReturnType<typeof histograms>>;

/**
 * Where an append's wait went in a window, from the node's /metrics: its mean time from
 * decided to durable, and the mean time of a transaction in the writer (fsync included);
 * the rest is the queue behind a transaction and the hand-offs between threads.
 */
function appendWait(before: Histograms, after: Histograms): string {
  const mean = (name: string) => {
    const a = after?.get(name);
    const b = before?.get(name);
    return a && b ? (a.sum - b.sum) / (a.count - b.count) : NaN;
  };
  const appends = mean('parley_store_batch_appends');
  return `appends wait ${(mean('parley_append_seconds') * 1000).toFixed(2)} ms on average, a transaction takes ${(mean('parley_store_transaction_seconds') * 1000).toFixed(2)} ms in the writer (${appends.toFixed(1)} appends each)`;
}

/**
 * The writer's CPU per transaction, and the kernel's share of it: its CPU per post moves
 * with how many appends a transaction carries (set by the machine's load), its CPU per
 * transaction much less, so A/B work on the writer's per-batch cost reads this.
 */
function writerPerTransaction(cpu: number, sys: number, before: Histograms, after: Histograms): string {
  const a = after?.get('parley_store_transaction_seconds');
  const b = before?.get('parley_store_transaction_seconds');
  const transactions = a && b ? a.count - b.count : NaN;
  return `writer ${((cpu * 1e6) / transactions).toFixed(0)} µs CPU per transaction (${((sys * 1e6) / transactions).toFixed(0)} of it kernel, ${transactions} transactions)`;
}

/**
 * CPU seconds per named thread between two readings; the writer is the busiest of the
 * unnamed threads, unless `writerTid` says which (to split kernel time as total time was).
 */
function split(before: Map<string, number>, after: Map<string, number>, writerTid?: string): Map<string, number> {
  const delta = new Map([...after].map(([k, v]) => [k, v - (before.get(k) ?? 0)]));
  const rest = [...delta].filter(([k]) => k !== 'main' && k !== 'read-model').sort((a, b) => b[1] - a[1]);
  const writer = writerTid ?? rest[0]?.[0];
  return new Map([
    ['main', delta.get('main') ?? 0],
    ['read-model', delta.get('read-model') ?? 0],
    ['writer', writer === undefined ? 0 : (delta.get(writer) ?? 0)],
    ['v8/libuv', rest.filter(([k]) => k !== writer).reduce((sum, [, v]) => sum + v, 0)],
  ]);
}

/** The tid of the busiest unnamed thread between two readings (the store's writer). */
function busiestOther(before: Map<string, number>, after: Map<string, number>): string | undefined {
  return [...after]
    .filter(([k]) => k !== 'main' && k !== 'read-model')
    .map(([k, v]) => [k, v - (before.get(k) ?? 0)] as const)
    .sort((a, b) => b[1] - a[1])[0]?.[0];
}

const profileDir = process.env.PROFILE_DIR;
const server = await startParley(profileDir ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] } : {});
try {
  const loads = [startLoad('fanout'), startLoad('fanout')];
  await Promise.all(
    loads.map((load, c) => {
      const rooms: string[][] = [];
      for (let k = c; k < roomCount; k += loads.length) rooms.push(Array.from({ length: 10 }, (_, j) => `u${k}-${j}`));
      return load.request({ cmd: 'setup', system: 'parley', deflate: true, url: server.url, rooms, offset: c * 100_000 }, 180_000);
    }),
  );
  // The idle CPU right after the clients connected, second by second and by thread: the
  // fanout scenario's "server CPU while idle" reads the first 4 s of such a stretch.
  const idle: string[] = [];
  for (let s = 1, last = cpuByThread(server.pid); s <= IDLE_SECONDS; s++) {
    await sleep(1000);
    const now = cpuByThread(server.pid);
    const threads = split(last, now);
    const total = [...threads.values()].reduce((a, b) => a + b, 0);
    idle.push(`${Math.round(total * 1000)} (${[...threads].map(([k, v]) => `${k} ${Math.round(v * 1000)}`).join(', ')})`);
    last = now;
  }
  console.log(`idle CPU after the clients connected, ms per second (${1000 / clockTicks} ms steps): ${idle.join('; ')}`);
  const perPost: number[] = [];
  for (let w = 1; w <= windows; w++) {
    const phase = { mode: 'rate', rate: rate / loads.length, warmupMs: WARMUP_MS, durationMs: MEASURED_MS, textBytes: 100, drainMs: 20_000 };
    const answers = Promise.all(loads.map((load) => load.request<PhaseResult>({ cmd: 'run', phase }, MEASURED_MS + 90_000)));
    await sleep(WARMUP_MS);
    const before = cpuByThread(server.pid);
    const sysBefore = cpuByThread(server.pid, 'sys');
    const writesBefore = writesByThread(server.pid);
    const waitBefore = await histograms(server.url, WAIT_METRICS);
    const from = process.hrtime.bigint() / 1000n;
    await sleep(MEASURED_MS);
    const after = cpuByThread(server.pid);
    const sysAfter = cpuByThread(server.pid, 'sys');
    const writesAfter = writesByThread(server.pid);
    const waitAfter = await histograms(server.url, WAIT_METRICS);
    if (profileDir) console.log(`window ${w} on the monotonic clock: ${from} .. ${process.hrtime.bigint() / 1000n} µs`);
    const posts = (await answers).reduce((sum, r) => sum + r.completedInWindow, 0);
    const threads = split(before, after);
    const total = [...threads.values()].reduce((a, b) => a + b, 0);
    perPost.push((total * 1000) / posts);
    const parts = [...threads].map(([k, v]) => `${k} ${((v * 1000) / posts).toFixed(3)}`).join(', ');
    const sys = split(sysBefore, sysAfter, busiestOther(before, after));
    const sysParts = [...sys].map(([k, v]) => `${k} ${((v * 1000) / posts).toFixed(3)}`).join(', ');
    console.log(`window ${w}: ${posts} posts back, ${perPost.at(-1)!.toFixed(3)} ms CPU per post (${parts}; kernel: ${sysParts}); ${writerPerTransaction(threads.get('writer')!, sys.get('writer')!, waitBefore, waitAfter)}; ${writesPerPost(writesBefore, writesAfter, posts)}; ${appendWait(waitBefore, waitAfter)}`);
  }
  perPost.sort((a, b) => a - b);
  console.log(`median of ${windows}: ${perPost[Math.floor(windows / 2)]!.toFixed(3)} ms CPU per post @ ${rate} posts/s, ${roomCount} rooms × 10`);
  await Promise.all(loads.map((load) => load.request({ cmd: 'close' }).catch(() => undefined)));
  await Promise.all(loads.map((load) => load.stop()));
} finally {
  await server.stop();
  cleanupAll();
}
