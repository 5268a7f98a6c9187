/**
 * Which read-model tables and indexes the bytes per post go to: the node's read models
 * (the real ProjectionRunner, in this process, no node) fed live batches of posts as the
 * read-model thread gets them under load (the fanout scenario's rooms × 10 members, one
 * author per room, 100-byte marked texts), then the WAL frames of a measured stretch
 * counted per table or index (page numbers from the WAL's frame headers, owners from
 * dbstat), and the pages a checkpoint then copies (distinct pages).
 *
 *   npx tsx bench/read-model-pages.ts [posts per batch = 100] [batches = 100] [warm-up posts = 20000] [rooms = 50]
 *   RANDOM_IDS=1 …   # message ids as before (UUIDv4) instead of the node's time-ordered ones
 *   PAGE_SIZE=4096 … # another page size than a new read-model file gets
 *
 * Deterministic (counts pages, no timing), so an A/B of a schema change is one run each.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FeedListener, StoredEvent } from '../engine/store/index.js';
import { builtInProjections, ProjectionRunner } from '../projections/index.js';
import { timeOrderedId } from '../engine/domain/index.js';
import { markedText } from './load/send-marker.js';
import { documentsProjection } from '../sync/document-log.js';

const perBatch = Number(process.argv[2] ?? 100);
const batches = Number(process.argv[3] ?? 100);
const warmup = Number(process.argv[4] ?? 20_000);
const roomCount = Number(process.argv[5] ?? 50);

const dir = mkdtempSync(join(tmpdir(), 'rm-pages-'));
const file = join(dir, 'read-models.sqlite');
let listener: FeedListener | null = null;
const feed = {
  readAll: async () => [] as StoredEvent[],
  subscribe(l: FeedListener) {
    listener = l;
    return () => (listener = null);
  },
};
if (process.env.PAGE_SIZE) {
  const pre = new (await import('better-sqlite3')).default(file);
  pre.pragma(`page_size = ${process.env.PAGE_SIZE}`);
  pre.exec('VACUUM');
  pre.close();
}
const db = ProjectionRunner.openDatabase(file);
db.pragma('wal_autocheckpoint = 0');
const runner = new ProjectionRunner(feed, db, [...builtInProjections(), documentsProjection()]);
await runner.start();

let position = 0;
const seqs = new Map<string, number>();
function event(room: number, type: string, data: unknown, actor: string): StoredEvent {
  const stream = `conversation-r${room}`;
  const seq = (seqs.get(stream) ?? 0) + 1;
  seqs.set(stream, seq);
  position += 1;
  return { stream, seq, position, id: randomUUID(), type, data, metadata: { actor, commandId: randomUUID(), correlationId: 'c', at: Date.now(), schemaVersion: 2 } };
}
async function apply(events: StoredEvent[]): Promise<void> {
  listener!(events);
  await runner.waitFor(position, 60_000);
}

const setup: StoredEvent[] = [];
for (let r = 0; r < roomCount; r++) {
  const members = Array.from({ length: 10 }, (_, j) => `u${r}-${j}`);
  setup.push(event(r, 'ConversationCreated', { title: `room ${r}`, createdBy: members[0], members }, members[0]!));
}
await apply(setup);
let room = 0;
function posts(n: number): StoredEvent[] {
  return Array.from({ length: n }, () => {
    const r = room++ % roomCount;
    return event(r, 'MessagePosted', { messageId: process.env.RANDOM_IDS ? randomUUID() : timeOrderedId(), author: `u${r}-0`, text: markedText(100), format: 'plain' }, `u${r}-0`);
  });
}
for (let done = 0; done < warmup; done += 1000) await apply(posts(Math.min(1000, warmup - done)));
db.pragma('wal_checkpoint(TRUNCATE)');

for (let b = 0; b < batches; b++) await apply(posts(perBatch));

const pageSize = db.pragma('page_size', { simple: true }) as number;
const wal = readFileSync(`${file}-wal`);
const owner = new Map<number, string>();
for (const row of db.prepare('SELECT name, pageno FROM dbstat').all() as Array<{ name: string; pageno: number }>) owner.set(row.pageno, row.name);
const frames = new Map<string, number>();
const distinct = new Map<string, Set<number>>();
for (let at = 32; at + 24 + pageSize <= wal.length; at += 24 + pageSize) {
  const page = wal.readUInt32BE(at);
  const name = owner.get(page) ?? '(free or new)';
  frames.set(name, (frames.get(name) ?? 0) + 1);
  if (!distinct.has(name)) distinct.set(name, new Set());
  distinct.get(name)!.add(page);
}
const total = [...frames.values()].reduce((a, b) => a + b, 0);
const totalDistinct = [...distinct.values()].reduce((a, s) => a + s.size, 0);
const kib = (pages: number) => ((pages * (pageSize + 24)) / 1024 / (perBatch * batches)).toFixed(2);
console.log(`${perBatch} posts per batch × ${batches} after ${warmup}, ${roomCount} rooms, page ${pageSize} B: WAL ${kib(total)} KiB/post, a checkpoint copies ${kib(totalDistinct)} KiB/post`);
for (const [name, n] of [...frames].sort((a, b) => b[1] - a[1])) {
  console.log(`  ${name.padEnd(36)} ${(n / batches).toFixed(1).padStart(7)} pages/batch  ${kib(n).padStart(6)} KiB/post WAL  ${kib(distinct.get(name)!.size).padStart(6)} KiB/post copied`);
}
await runner.stop();
db.close();
rmSync(dir, { recursive: true, force: true });
