/**
 * The read-model thread: applies the projections that have a `source` to the read-model
 * file with its own write connection, so the node's event loop never runs a projection,
 * an FTS update or a WAL checkpoint. It runs the same ProjectionRunner as the CLI (same
 * checkpoints, failure isolation, skips and rebuilds) over a feed that the main thread
 * fills: live batches as JSON text, and pages of the log it asks for while catching up.
 *
 * The main thread only reads the file. Checkpoints of the WAL run here, between batches,
 * once the WAL passes `checkpointBytes`: PASSIVE, so they never wait for a reader, and
 * with `journal_size_limit` the file shrinks back when the WAL starts over.
 *
 * On Linux the thread lowers its own scheduling priority (`nice`): on a machine with few
 * cores, the event loop and the store's writer get the CPU first when all three want it,
 * and the read models take the rest (readers wait for them, acks and fan-out do not).
 */
import { readlinkSync, statSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { LogCursor, type FeedListener, type PartitionedLog, type StoredEvent } from '../engine/store/index.js';
import { ParleyError } from '../protocol/index.js';
import { furthest } from './cursor-entries.js';
import type { Projection, ProjectionSource } from './projection.js';
import { fromWire, toWire, type FromThread, type ModelState, type ThreadSettings, type ToThread, type WireError } from './read-model-messages.js';
import { ProjectionRunner, type ProjectionFeed } from './runner.js';

const port = parentPort!;
const settings = workerData as ThreadSettings;
const post = (message: FromThread): void => port.postMessage(message);

type Page = { events: StoredEvent[]; resumed: boolean };

/**
 * The log as the main thread serves it: pages on request, live batches as they commit
 * and, when it stopped sending them because this thread fell behind, pages pulled from
 * where it stopped until one reaches the head (see read-model-messages.ts). It reads by
 * cursor, as a partitioned store does, so the runner keeps one checkpoint per partition.
 */
class ForwardedFeed implements ProjectionFeed, PartitionedLog {
  private listener: FeedListener | null = null;
  private readonly pages = new Map<number, { resolve: (page: Page) => void; reject: (err: Error) => void }>();
  private nextPage = 1;
  /** Live events taken off the channel, reported back so the main thread can bound what is in flight. */
  received = 0;
  /** What was handed to the runner, per partition: a page and the live batch after it may overlap. */
  private delivered: LogCursor;

  constructor(readonly partitions: number) {
    this.delivered = LogCursor.start(partitions);
  }

  readAll(afterPosition: number, limit: number): Promise<StoredEvent[]> {
    try {
      return this.readAllAfter(LogCursor.decode(afterPosition, this.partitions), limit);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async readAllAfter(after: LogCursor, limit: number): Promise<StoredEvent[]> {
    return (await this.request({ read: 0, after: after.encode(), limit })).events;
  }

  /** The runner never asks for the head; a reader that did would get the main thread's answer stale anyway. */
  headCursor(): Promise<LogCursor> {
    return Promise.reject(new Error('the read-model thread reads no head cursor'));
  }

  private request(message: { read: number; after: string; limit: number } | { pull: number; after: string; limit: number }): Promise<Page> {
    const id = this.nextPage++;
    return new Promise((resolve, reject) => {
      this.pages.set(id, { resolve, reject });
      post('read' in message ? { ...message, read: id } : { ...message, pull: id });
    });
  }

  /**
   * The main thread stopped sending live batches after `token` (what it sent): pull the log
   * from there until a page says it resumed. Where the runner or the live batches already
   * got further (a partition nothing was sent for since this thread started), from there.
   */
  behind(token: string, applied: LogCursor): void {
    void (async () => {
      for (let from = furthest(furthest(LogCursor.decode(token, this.partitions), this.delivered), applied); ; ) {
        let page: Page;
        try {
          page = await this.request({ pull: 0, after: from.encode(), limit: settings.batchSize ?? 1000 });
        } catch {
          // The log cannot be read now: try again shortly (live batches stay off until a page reaches the head).
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
        from = from.advancedBy(page.events);
        this.deliver(page.events);
        if (page.resumed) return;
        // At the head but not resumed: the log has not shown what the feed announced yet.
        if (page.events.length === 0) await new Promise((r) => setTimeout(r, 10));
      }
    })();
  }

  subscribe(listener: FeedListener): () => void {
    this.listener = listener;
    return () => {
      if (this.listener === listener) this.listener = null;
    };
  }

  /** Batches before the runner subscribed are dropped: they are in the log it catches up from. */
  live(text: string): void {
    const events = JSON.parse(text) as StoredEvent[];
    this.received += events.length;
    this.deliver(events);
  }

  /** Hands the runner each position once, in order per partition (it filters by checkpoint only after a batch is applied). */
  private deliver(events: StoredEvent[]): void {
    if (!this.listener || events.length === 0) return;
    const delivered = this.delivered;
    const fresh = delivered.covers(events[0]!.position) || delivered.partitions > 1 ? events.filter((e) => !delivered.covers(e.position)) : events;
    if (fresh.length === 0) return;
    this.delivered = delivered.advancedBy(fresh);
    this.listener(fresh);
  }

  page(id: number, events: string | undefined, error: WireError | undefined, resumed = false): void {
    const pending = this.pages.get(id);
    this.pages.delete(id);
    if (!pending) return;
    if (error) pending.reject(fromWire(error));
    else pending.resolve({ events: JSON.parse(events ?? '[]') as StoredEvent[], resumed });
  }
}

async function load(source: ProjectionSource): Promise<Projection> {
  const mod = (await import(source.module)) as Record<string, unknown>;
  const found = mod[source.export];
  if (found === undefined) throw new Error(`${source.module} exports no ${source.export}`);
  return (typeof found === 'function' ? found(...(source.args ?? [])) : found) as Projection;
}

const feed = new ForwardedFeed(settings.partitions);
let runner: ProjectionRunner | undefined;
let applied: Array<[string, number, number]> = [];
let progressQueued = false;
let checkpointQueued = false;

/** One progress message per turn, after the batch that changed things. */
function queueProgress(): void {
  if (progressQueued) return;
  progressQueued = true;
  queueMicrotask(() => {
    progressQueued = false;
    postProgress();
    queueCheckpoint();
  });
}

function postProgress(): void {
  const r = runner;
  if (!r) return;
  const progress: ModelState[] = r.readiness().map((readiness) => ({ readiness, status: r.statusOf(readiness.name)! }));
  post({ progress, applied, received: feed.received });
  applied = [];
}

/** Between batches, never inside one: a checkpoint after the readers were told. */
function queueCheckpoint(): void {
  if (checkpointQueued) return;
  checkpointQueued = true;
  setImmediate(() => {
    checkpointQueued = false;
    try {
      const walBytes = statSync(`${settings.file}-wal`, { throwIfNoEntry: false })?.size ?? 0;
      if (walBytes > settings.checkpointBytes) {
        runner?.db.pragma('wal_checkpoint(PASSIVE)');
      }
    } catch {
      // A checkpoint that cannot run now (busy, a full disk) runs after a later batch.
    }
  });
}

port.on('message', (message: ToThread) => {
  try {
    if ('live' in message) feed.live(message.live);
    else if ('page' in message) feed.page(message.page, message.events, message.error, message.resumed);
    else if ('behind' in message) feed.behind(message.behind, runner?.cursor ?? LogCursor.start(settings.partitions));
    else if ('skip' in message) runner?.skip(message.skip, message.position, message.reason);
    else if ('rebuild' in message) rebuild(message.rebuild, message.names);
    else if ('stop' in message) void stop();
  } catch (err) {
    console.error('read-model thread: a message could not be handled', err);
  }
});

function rebuild(id: number, names: string[]): void {
  if (!runner) {
    post({ rebuilt: id, error: toWire(new ParleyError('unavailable', 'read models are starting; try again')) });
    return;
  }
  runner.rebuild(names).then(
    () => post({ rebuilt: id }),
    (err: unknown) => post({ rebuilt: id, error: toWire(err) }),
  );
}

async function stop(): Promise<void> {
  try {
    await runner?.stop();
    runner?.db.close();
  } finally {
    post({ stopped: true });
    port.close();
  }
}

/** Linux: this thread's own id, from /proc/thread-self (`<pid>/task/<tid>`); the priority of a tid is that thread's alone. */
function lowerPriority(nice: number): void {
  if (nice <= 0 || process.platform !== 'linux') return;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, nice);
  } catch {
    // Not allowed or not there: the thread runs at the node's priority.
  }
}

lowerPriority(settings.nice);
const db = ProjectionRunner.openDatabase(settings.file);
db.pragma('busy_timeout = 5000');
// Checkpoints are this thread's own, between batches (queueCheckpoint), never inside a commit.
db.pragma('wal_autocheckpoint = 0');
db.pragma(`journal_size_limit = ${settings.checkpointBytes}`);
const projections = await Promise.all(settings.sources.map(load));
runner = new ProjectionRunner(feed, db, projections, {
  batchSize: settings.batchSize,
  retry: settings.retry,
  onApplied: (name, position, events) => {
    applied.push([name, position, events]);
    queueProgress();
  },
  onError: (name, err, failure) => post({ failed: name, error: toWire(err), failure }),
  onRecovered: (name) => post({ recovered: name }),
  onProgress: queueProgress,
});
await runner.start();
postProgress();
post({ started: true });
