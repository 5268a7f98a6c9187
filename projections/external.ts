/**
 * Projections whose read model lives outside the node's SQLite file (a warehouse, a
 * search cluster, a queue). Their checkpoint cannot commit in the same transaction as
 * their writes, so delivery is at-least-once: after a crash the last batch may come
 * again, and `handle` must be idempotent (upsert by event id or position).
 *
 * Each runs in its own loop that reads the log from its checkpoint, so it catches up by
 * itself, never overlaps its own rebuild, and a slow one holds up nobody else. A failing
 * one retries with a growing pause, one event at a time until it succeeds again, so its
 * failure names the event (which an operator can skip, see skips.ts).
 */
import { LogCursor, readAllAfter, type EventStore, type StoredEvent } from '../engine/store/index.js';
import type Database from 'better-sqlite3';
import { prepared } from './prepared.js';
import type { ProjectionFailure } from './status.js';
import { storedCursor, storedToken } from './stored-checkpoint.js';

export interface ExternalProjection {
  readonly kind: 'external';
  readonly name: string;
  readonly version: number;
  readonly handles: readonly string[];
  /** Applies a batch (oldest first). Must be idempotent: a batch may be delivered twice. */
  handle(events: StoredEvent[]): Promise<void>;
  /** Removes everything it built (before a rebuild or after a version change). */
  truncate(): Promise<void>;
}

export function isExternal(p: object): p is ExternalProjection {
  return (p as { kind?: unknown }).kind === 'external';
}

export interface LaneOptions {
  batchSize: number;
  /** The log's partition count (its checkpoint is a cursor over them). */
  partitions: number;
  /** Pause before the next attempt after `attempts` failures in a row. */
  retry: (attempts: number) => number;
  isSkipped: (position: number) => boolean;
  reloadSkips: () => void;
  onError: (err: unknown, failure: ProjectionFailure) => void;
  onRecovered: () => void;
  onApplied?: (position: number, n: number) => void;
}

export class ExternalLane {
  checkpoint: LogCursor;
  /** Set while it fails; cleared by the first batch that applies. */
  failure: ProjectionFailure | null = null;
  private wake: (() => void) | null = null;
  /** Ends the pause after a failure: only a stop or a new skip does, not new events. */
  private retryWake: (() => void) | null = null;
  /** After a batch failed: one event at a time until the checkpoint covers its last event. */
  private narrowUntil = 0;
  private stopped = false;
  private resetRequested: boolean;
  private rebuilt: Array<() => void> = [];
  private loop: Promise<void> | null = null;

  constructor(
    readonly projection: ExternalProjection,
    private readonly store: Pick<EventStore, 'readAll'>,
    private readonly db: Database.Database,
    private readonly options: LaneOptions,
  ) {
    const row = prepared(db, 'SELECT version, position FROM projection_checkpoints WHERE name = ?').get(projection.name) as
      | { version: number; position: number | string }
      | undefined;
    const checkpoint = row && storedCursor(row.position, options.partitions);
    this.checkpoint = checkpoint ?? LogCursor.start(options.partitions);
    // A checkpoint of another shape of log (another partition count) says nothing about this one: rebuilt.
    this.resetRequested = row !== undefined && (row.version !== projection.version || checkpoint === null);
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** New events exist in the log. */
  poke(): void {
    this.wake?.();
  }

  /** Truncates and replays; resolves when the replay has caught up with the log. */
  rebuild(): Promise<void> {
    this.resetRequested = true;
    this.poke();
    this.retryNow();
    return new Promise((resolve) => this.rebuilt.push(resolve));
  }

  /** Ends the pause after a failure (a skip was recorded). */
  retryNow(): void {
    this.retryWake?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.poke();
    this.retryNow();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let page: StoredEvent[] = [];
      try {
        if (this.resetRequested) {
          this.resetRequested = false;
          await this.projection.truncate();
          this.save(LogCursor.start(this.options.partitions));
        }
        const single = this.failure !== null || !this.checkpoint.covers(this.narrowUntil);
        page = await readAllAfter(this.store, this.checkpoint, single ? 1 : this.options.batchSize);
        if (page.length === 0) {
          for (const done of this.rebuilt.splice(0)) done();
          await this.pause(1000);
          continue;
        }
        const relevant = page.filter((e) => this.projection.handles.includes(e.type) && !this.options.isSkipped(e.position));
        if (relevant.length > 0) await this.projection.handle(relevant);
        this.save(this.checkpoint.advancedBy(page));
        this.options.onApplied?.(page[page.length - 1]!.position, relevant.length);
        // Failed until it is past everything of the batch that failed.
        if (this.failure && this.checkpoint.covers(this.narrowUntil)) {
          this.failure = null;
          this.options.onRecovered();
        }
      } catch (err) {
        // The checkpoint did not move: retried after a growing pause, one event at a time
        // up to the end of this batch, so that a failure that stays names its event.
        if (page.length > 0) this.narrowUntil = page[page.length - 1]!.position;
        const attempts = (this.failure?.attempts ?? 0) + 1;
        const delay = this.options.retry(attempts);
        const first = page[0];
        this.failure = {
          position: first?.position ?? this.checkpoint.next,
          eventType: first?.type ?? null,
          stream: first?.stream ?? null,
          error: err instanceof Error ? err.message : String(err),
          code: typeof (err as { code?: unknown } | null)?.code === 'string' ? (err as { code: string }).code : null,
          since: this.failure?.since ?? Date.now(),
          attempts,
          nextRetryAt: Date.now() + delay,
        };
        try {
          this.options.onError(err, this.failure);
        } catch {
          // A failing report must not end the loop.
        }
        await new Promise<void>((r) => {
          this.retryWake = r;
          setTimeout(r, delay).unref?.();
        });
        this.retryWake = null;
        this.options.reloadSkips();
        if (this.failure) this.failure.nextRetryAt = null;
      }
    }
  }

  /** Waits `ms`, or less when poked. */
  private async pause(ms: number): Promise<void> {
    await new Promise<void>((r) => {
      this.wake = r;
      setTimeout(r, ms);
    });
    this.wake = null;
  }

  private save(checkpoint: LogCursor): void {
    prepared(
      this.db,
      'INSERT INTO projection_checkpoints VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET version = excluded.version, position = excluded.position',
    ).run(this.projection.name, this.projection.version, storedToken(checkpoint));
    this.checkpoint = checkpoint;
  }
}
