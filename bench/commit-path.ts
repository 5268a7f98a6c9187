/**
 * The durable commit path alone: how long an append waits from "requested" to "durable",
 * appends offered at a fixed rate (open loop: latency counts from each append's scheduled
 * time, so a blocked event loop shows), one ~300-byte event each on one of 50 streams with
 * its idempotency row, on the real schema. Designs, run in turn (A B Bn C 0, twice):
 *   A   today's SqliteEventStore (writer thread, synchronous=FULL, group commit), public API;
 *   B   the transaction on the main thread, synchronous=OFF, then fs.fdatasync (libuv pool)
 *       of the -wal file; appends committed during a sync share the next one; durable once
 *       a sync that started after the commit returns;
 *   Bn  B with synchronous=NORMAL (SQLite then syncs the WAL header when the WAL restarts);
 *   C   B's transaction with synchronous=FULL: the fsync inside the commit, on the main thread;
 *   0   no store: the harness's own latency and CPU (its 1 ms pacer).
 * B, Bn, C get a checkpointer thread like sqlite-checkpointer.js. Everything runs with
 * `burners` CPU-spinning child processes (standing in for load generators), then without.
 *
 *   npx tsx bench/commit-path.ts [appends/s = 500] [seconds = 10] [burners = 2]
 *   DESIGNS=B,Bn npx tsx bench/commit-path.ts …   # only those (e.g. under strace -f)
 *
 * Per run: p50/p99/p999 (ms); CPU per append (process.cpuUsage, and per thread from
 * /proc/self/task: main, busiest other, the rest) and each thread's wait for a core (µs per
 * append); appends per transaction and per sync.
 */
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { closeSync, fdatasync, fstatSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { toNewEvents } from '../engine/domain/index.js';
import { SqliteEventStore, type AppendOptions, type NewEvent } from '../engine/store/index.js';

const rate = Number(process.argv[2] ?? 500);
const seconds = Number(process.argv[3] ?? 10);
const burnerCount = Number(process.argv[4] ?? 2);
const WARMUP_MS = 1000;
const STREAMS = 50;
const ROUNDS = 2;
type Design = 'A' | 'B' | 'Bn' | 'C' | '0';
const DESIGNS = (process.env.DESIGNS?.split(',') ?? ['A', 'B', 'Bn', 'C', '0']) as Design[];

/** counts(): transactions and syncs so far (A and C: one fsync per transaction). */
type Appender = { append(s: string, e: NewEvent[], o: AppendOptions): Promise<unknown>; counts(): { transactions: number; syncs: number }; close(): Promise<void> };
type Queued = { stream: string; events: NewEvent[]; options: AppendOptions; done: (err?: Error) => void };

/** A checkpointer thread like sqlite-checkpointer.js (its own connection, off the commit path). */
const CHECKPOINTER = `
const { workerData, parentPort } = require('node:worker_threads');
const db = new (require(workerData.sqlite))(workerData.file);
for (const p of ['busy_timeout = 250', 'wal_autocheckpoint = 0', 'synchronous = FULL', 'journal_size_limit = 4194304']) db.pragma(p);
const timer = setInterval(() => {
  const bytes = require('node:fs').statSync(workerData.file + '-wal', { throwIfNoEntry: false })?.size ?? 0;
  try { if (bytes > 0) db.pragma('wal_checkpoint(PASSIVE)'); if (bytes > 64 * 1024 * 1024) db.pragma('wal_checkpoint(TRUNCATE)'); } catch {}
}, 250);
parentPort.once('message', () => { clearInterval(timer); db.close(); parentPort.close(); });`;

/** B, Bn and C: sqlite-writer.js's checks and rows, in a transaction on this thread. */
class MainThreadLog implements Appender {
  private readonly db: Database.Database;
  private readonly walFd: number | null;
  private readonly walIno: number | undefined;
  private readonly checkpointer: Worker;
  private readonly versions = new Map<string, number>();
  private readonly commitAll: (batch: Queued[]) => void;
  private queued: Queued[] = [];
  private unsynced: Array<(err?: Error) => void> = [];
  private syncing = false;
  private transactions = 0;
  private syncs = 0;

  constructor(private readonly file: string, synchronous: 'OFF' | 'NORMAL' | 'FULL') {
    const db = (this.db = new Database(file));
    for (const p of ['journal_mode = WAL', `synchronous = ${synchronous}`, 'busy_timeout = 5000', 'wal_autocheckpoint = 0', 'secure_delete = ON', 'journal_size_limit = 4194304']) db.pragma(p);
    const insert = db.prepare('INSERT INTO events (position, stream, seq, id, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)');
    const versionOf = db.prepare('SELECT max(seq) FROM events WHERE stream = ?').pluck();
    const findKey = db.prepare('SELECT fingerprint, result FROM idempotency WHERE key = ?');
    const insertKey = db.prepare('INSERT INTO idempotency (key, fingerprint, result) VALUES (?, ?, ?)');
    let head = (db.prepare('SELECT max(position) FROM events').pluck().get() as number | null) ?? 0;
    this.commitAll = db.transaction((batch: Queued[]) => {
      for (const req of batch) {
        let v = this.versions.get(req.stream) ?? ((versionOf.get(req.stream) as number | null) ?? 0);
        const key = req.options.idempotency;
        if ((key && findKey.get(key.key)) || (req.options.expectedVersion !== 'any' && req.options.expectedVersion !== v)) {
          throw new Error(`bench: unexpected duplicate or conflict on ${req.stream}`);
        }
        for (const e of req.events) insert.run(++head, req.stream, ++v, e.id, e.type, JSON.stringify(e.data), JSON.stringify(e.metadata));
        if (key) insertKey.run(key.key, key.fingerprint, JSON.stringify(key.result));
        this.versions.set(req.stream, v);
      }
    }).immediate;
    // The -wal file exists once the connection has read in WAL mode (just above).
    this.walFd = synchronous === 'FULL' ? null : openSync(`${file}-wal`, 'r');
    this.walIno = this.walFd === null ? undefined : fstatSync(this.walFd).ino;
    const sqlite = createRequire(import.meta.url).resolve('better-sqlite3');
    this.checkpointer = new Worker(CHECKPOINTER, { eval: true, workerData: { file, sqlite } });
  }

  append(stream: string, events: NewEvent[], options: AppendOptions): Promise<void> {
    return new Promise((resolve, reject) => {
      // Appends offered in one turn (one pacer tick) share a transaction.
      if (this.queued.length === 0) queueMicrotask(() => this.commit());
      this.queued.push({ stream, events, options, done: (err) => (err ? reject(err) : resolve()) });
    });
  }

  counts = () => ({ transactions: this.transactions, syncs: this.walFd === null ? this.transactions : this.syncs });

  private commit(): void {
    const batch = this.queued;
    this.queued = [];
    try {
      this.commitAll(batch);
    } catch (err) {
      this.versions.clear();
      return batch.forEach((req) => req.done(err as Error));
    }
    this.transactions += 1;
    if (this.walFd === null) return batch.forEach((req) => req.done());
    this.unsynced.push(...batch.map((req) => req.done));
    if (!this.syncing) this.sync();
  }

  /** Syncs the WAL for every append committed so far; those committed meanwhile wait for the next. */
  private sync(): void {
    const waiting = this.unsynced;
    this.unsynced = [];
    this.syncing = true;
    this.syncs += 1;
    fdatasync(this.walFd!, (err) => {
      this.syncing = false;
      for (const done of waiting) done(err ?? undefined);
      if (this.unsynced.length > 0) this.sync();
    });
  }

  /** Once every append was answered (the run awaits them all). */
  async close(): Promise<void> {
    // The fd must still be the WAL's: nothing replaced the file during the run.
    if (this.walFd !== null && statSync(`${this.file}-wal`).ino !== this.walIno) console.log('  ! the -wal file was replaced');
    if (this.walFd !== null) closeSync(this.walFd);
    this.checkpointer.postMessage('stop');
    await new Promise((r) => this.checkpointer.once('exit', r));
    this.db.close();
  }
}

function openDesign(design: Design, file: string): Appender {
  if (design === '0') return { append: async () => undefined, counts: () => ({ transactions: 0, syncs: 0 }), close: async () => undefined };
  if (design !== 'A') return new MainThreadLog(file, design === 'B' ? 'OFF' : design === 'Bn' ? 'NORMAL' : 'FULL');
  let transactions = 0;
  const store = new SqliteEventStore({ file, onTransaction: () => void (transactions += 1) });
  return { append: (s, e, o) => store.append(s, e, o), counts: () => ({ transactions, syncs: transactions }), close: () => store.close() };
}

/** Per thread, seconds on a core and waiting in a run queue for one (schedstat, ns): the wait is what a hand-off costs on a busy machine. */
function threadTimes(): Map<number, { cpu: number; wait: number }> {
  const out = new Map<number, { cpu: number; wait: number }>();
  for (const tid of readdirSync('/proc/self/task')) {
    let stat: string;
    try { stat = readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8'); } catch { continue; } // the thread ended meanwhile
    const [cpu, wait] = stat.split(' ').map((ns) => Number(ns) / 1e9);
    out.set(Number(tid), { cpu: cpu!, wait: wait! });
  }
  return out;
}

/** One ~300-byte event (data + metadata as JSON) and its idempotency record. */
function post(i: number) {
  const author = `user-${i % STREAMS}`;
  const commandId = randomUUID();
  const data = { messageId: randomUUID(), author, text: '' };
  const events = toNewEvents([{ type: 'MessagePosted', data }], { actor: author, commandId });
  data.text = 'x'.repeat(Math.max(0, 300 - JSON.stringify(data).length - JSON.stringify(events[0]!.metadata).length));
  const fingerprint = createHash('sha256').update(commandId).digest('base64url').slice(0, 22);
  const idempotency = { key: `${author}:${commandId}`, fingerprint, result: { messageId: data.messageId } };
  return { stream: `conversation-bench-${i % STREAMS}`, events, idempotency };
}

async function run(design: Design, burners: number, round: number): Promise<{ p99: number; p999: number; cpuUs: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-commit-path-'));
  const file = join(dir, 'events.sqlite');
  await new SqliteEventStore({ file }).close(); // the real schema, in a WAL-mode file
  const log = openDesign(design, file);
  const snapshot = () => ({ cpu: process.cpuUsage(), threads: threadTimes(), log: log.counts() });
  const versions = new Array<number>(STREAMS).fill(0);
  const latencies: number[] = [];
  const measured: Promise<unknown>[] = [];
  let failures = 0;
  const start = performance.now();
  const [from, to] = [start + WARMUP_MS, start + WARMUP_MS + seconds * 1000];
  const total = Math.round(((to - start) / 1000) * rate);
  let issued = 0;
  let before: ReturnType<typeof snapshot> | undefined;
  await new Promise<void>((done) => {
    const tick = () => {
      const now = performance.now();
      if (!before && now >= from) before = snapshot();
      for (let due = start + (issued * 1000) / rate; issued < total && due <= now; due = start + (issued * 1000) / rate) {
        const { stream, events, idempotency } = post(issued);
        const inWindow = due >= from;
        const answered = log.append(stream, events, { expectedVersion: versions[issued++ % STREAMS]!++, idempotency }).then(
          () => void (inWindow && latencies.push(performance.now() - due)),
          () => void (failures += 1),
        );
        if (inWindow) measured.push(answered);
      }
      if (issued < total) setTimeout(tick, 1);
      else done();
    };
    tick();
  });
  await Promise.all(measured);
  const after = snapshot();
  await log.close();
  rmSync(dir, { recursive: true, force: true });
  const b = before!;
  const n = latencies.length;
  latencies.sort((x, y) => x - y);
  const q = (p: number) => latencies[Math.min(n - 1, Math.floor(p * n))] ?? NaN;
  const cpuUs = (after.cpu.user - b.cpu.user + after.cpu.system - b.cpu.system) / n;
  const us = (s: number) => ((s * 1e6) / n).toFixed(0);
  const deltas = [...after.threads].map(([tid, t]) => {
    const was = b.threads.get(tid) ?? { cpu: 0, wait: 0 };
    return { tid, cpu: t.cpu - was.cpu, wait: t.wait - was.wait };
  });
  const main = deltas.find((d) => d.tid === process.pid)!;
  const others = deltas.filter((d) => d.tid !== process.pid).sort((x, y) => y.cpu - x.cpu);
  const rest = (k: 'cpu' | 'wait') => us(others.slice(1).reduce((sum, d) => sum + d[k], 0));
  const split = (k: 'cpu' | 'wait') => `main ${us(main[k])}, busiest other ${us(others[0]?.[k] ?? 0)}, rest ${rest(k)}`;
  const per = (k: 'transactions' | 'syncs') => (after.log[k] > b.log[k] ? (n / (after.log[k] - b.log[k])).toFixed(2) : '-');
  console.log(
    `${design.padEnd(2)} burners=${burners} round ${round}: p50 ${q(0.5).toFixed(2)} p99 ${q(0.99).toFixed(2)} p999 ${q(0.999).toFixed(2)} ms` +
      ` | CPU ${cpuUs.toFixed(0)} µs/append (${split('cpu')}; run-queue wait ${split('wait')})` +
      ` | ${per('transactions')} appends/tx, ${per('syncs')}/sync | n=${n}${failures ? ` FAILED ${failures}` : ''}`,
  );
  return { p99: q(0.99), p999: q(0.999), cpuUs };
}

const phases = burnerCount > 0 ? [burnerCount, 0] : [0];
const summary: string[] = [];
console.log(`commit-path (pid ${process.pid}): ${rate} appends/s, ${seconds} s measured (+1 s warm-up) per run, burners ${phases.join(' then ')}`);
for (const burners of phases) {
  // Spinners that end by themselves even if this process dies first.
  const phaseMs = ROUNDS * DESIGNS.length * (seconds * 1000 + WARMUP_MS + 3000) + 10_000;
  const spin = `const end = Date.now() + ${phaseMs}; while (Date.now() < end) {}`;
  const spinners = Array.from({ length: burners }, () => spawn(process.execPath, ['-e', spin], { stdio: 'ignore' }));
  const stop = () => spinners.forEach((c) => c.kill('SIGKILL'));
  process.once('exit', stop);
  try {
    await new Promise((r) => setTimeout(r, 500));
    console.log(`-- burners=${burners}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    const runs = new Map<Design, Array<{ p99: number; p999: number; cpuUs: number }>>();
    for (let round = 1; round <= ROUNDS; round++) for (const d of DESIGNS) runs.set(d, [...(runs.get(d) ?? []), await run(d, burners, round)]);
    for (const [d, r] of runs) {
      const f = (k: 'p99' | 'p999' | 'cpuUs', digits: number) => r.map((x) => x[k].toFixed(digits)).join(' / ');
      summary.push(`  burners=${burners} ${d.padEnd(2)} p99 ${f('p99', 2)}   p999 ${f('p999', 2)}   CPU µs/append ${f('cpuUs', 0)}`);
    }
  } finally {
    stop();
  }
}
console.log(`\nsummary, per round:\n${summary.join('\n')}`);
