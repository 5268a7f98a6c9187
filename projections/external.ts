/**
 * Projections whose read model lives outside the node's SQLite file (a warehouse, a
 * search cluster, a queue). Their checkpoint cannot commit in the same transaction as
 * their writes, so delivery is at-least-once: after a crash the last batch may come
 * again, and `handle` must be idempotent (upsert by event id or position).
 *
 * Each runs in its own loop that reads the log from its checkpoint, so it catches up by
 * itself, never overlaps its own rebuild, and a slow one holds up nobody else.
 */
import type { EventStore, StoredEvent } from '../engine/store/index.js';
import type Database from 'better-sqlite3';
import { prepared } from './prepared.js';

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

export class ExternalLane {
  checkpoint: number;
  private wake: (() => void) | null = null;
  private stopped = false;
  private resetRequested: boolean;
  private rebuilt: Array<() => void> = [];
  private loop: Promise<void> | null = null;

  constructor(
    readonly projection: ExternalProjection,
    private readonly store: EventStore,
    private readonly db: Database.Database,
    private readonly options: { batchSize: number; onError: (err: unknown) => void; onApplied?: (position: number, n: number) => void },
  ) {
    const row = prepared(db, 'SELECT version, position FROM projection_checkpoints WHERE name = ?').get(projection.name) as
      | { version: number; position: number }
      | undefined;
    this.checkpoint = row?.position ?? 0;
    this.resetRequested = row !== undefined && row.version !== projection.version;
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
    return new Promise((resolve) => this.rebuilt.push(resolve));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.poke();
    await this.loop;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        if (this.resetRequested) {
          this.resetRequested = false;
          await this.projection.truncate();
          this.save(0);
        }
        const page = await this.store.readAll(this.checkpoint, this.options.batchSize);
        if (page.length === 0) {
          for (const done of this.rebuilt.splice(0)) done();
          await new Promise<void>((r) => {
            this.wake = r;
            setTimeout(r, 1000);
          });
          this.wake = null;
          continue;
        }
        const relevant = page.filter((e) => this.projection.handles.includes(e.type));
        if (relevant.length > 0) await this.projection.handle(relevant);
        this.save(page[page.length - 1]!.position);
        this.options.onApplied?.(this.checkpoint, relevant.length);
        failures = 0;
      } catch (err) {
        // The checkpoint did not move: the same batch is retried, with a growing pause.
        this.options.onError(err);
        failures += 1;
        await new Promise((r) => setTimeout(r, Math.min(30_000, 100 * 2 ** failures)));
      }
    }
  }

  private save(position: number): void {
    prepared(
      this.db,
      'INSERT INTO projection_checkpoints VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET version = excluded.version, position = excluded.position',
    ).run(this.projection.name, this.projection.version, position);
    this.checkpoint = position;
  }
}
