/**
 * The projection runner: keeps read models in a SQLite file up to date with the log.
 *
 * - Each projection has a checkpoint (the last position it applied) and a version, both in
 *   `projection_checkpoints`, updated in the same transaction as its read model.
 * - On start it subscribes to the live feed first and buffers, then catches up from the
 *   log, then drains the buffer: no event falls between the two.
 * - A rebuild truncates a projection and replays the log into it; live events for that
 *   projection wait in the buffer meanwhile, so a rebuild never overlaps a live run.
 */
import Database from 'better-sqlite3';
import type { EventStore, StoredEvent } from '../engine/store/index.js';
import { ParleyError } from '../protocol/index.js';
import { ExternalLane, isExternal, type ExternalProjection } from './external.js';
import type { Projection } from './projection.js';
import { prepared } from './prepared.js';

export interface RunnerOptions {
  /** How many events to read from the log at a time while catching up. */
  batchSize?: number;
  /** Observes each applied batch: projection name, its new checkpoint, events handled. */
  onApplied?: (projection: string, position: number, events: number) => void;
  /** Failures of external projections (retried); default: logged to stderr. */
  onError?: (projection: string, err: unknown) => void;
}

interface Slot {
  projection: Projection;
  handles: Set<string>;
  checkpoint: number;
  /** While rebuilding, live batches wait here. */
  held: StoredEvent[][] | null;
}

export class ProjectionRunner {
  private readonly slots = new Map<string, Slot>();
  private readonly lanes = new Map<string, ExternalLane>();
  private unsubscribe: (() => void) | null = null;
  private startupBuffer: StoredEvent[][] | null = null;
  private live: StoredEvent[][] = [];
  private drainScheduled = false;
  private waiters: Array<{ position: number; resolve: () => void }> = [];
  private readonly batchSize: number;

  constructor(
    private readonly store: EventStore,
    readonly db: Database.Database,
    projections: Array<Projection | ExternalProjection>,
    private readonly options: RunnerOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 1000;
    db.exec(`CREATE TABLE IF NOT EXISTS projection_checkpoints (
      name TEXT PRIMARY KEY, version INTEGER NOT NULL, position INTEGER NOT NULL
    ) WITHOUT ROWID`);
    for (const p of projections) {
      if (this.slots.has(p.name) || this.lanes.has(p.name)) throw new Error(`two projections are named ${p.name}`);
      if (isExternal(p)) {
        const onError = options.onError ?? ((name, err) => console.error(`projection ${name} failed; retrying`, err));
        this.lanes.set(
          p.name,
          new ExternalLane(p, store, db, {
            batchSize: this.batchSize,
            onError: (err) => onError(p.name, err),
            onApplied: (position, n) => options.onApplied?.(p.name, position, n),
          }),
        );
        continue;
      }
      const row = prepared(db, 'SELECT version, position FROM projection_checkpoints WHERE name = ?').get(p.name) as
        | { version: number; position: number }
        | undefined;
      const changed = row !== undefined && row.version !== p.version;
      if (changed) p.drop?.(db);
      p.setup(db);
      const slot: Slot = { projection: p, handles: new Set(p.handles), checkpoint: row?.position ?? 0, held: null };
      if (changed) this.reset(slot);
      this.slots.set(p.name, slot);
    }
  }

  /** Opens (or creates) a read-model database tuned for rebuildable data. */
  static openDatabase(file: string): Database.Database {
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    // Read models are rebuilt from the log after a crash, so they need no fsync per commit.
    db.pragma('synchronous = NORMAL');
    db.pragma('cache_size = -65536'); // 64 MiB: rebuilds of large logs stay in memory longer
    return db;
  }

  get projectionNames(): string[] {
    return [...this.slots.keys(), ...this.lanes.keys()];
  }

  versionOf(name: string): number | undefined {
    return (this.slots.get(name) ?? this.lanes.get(name))?.projection.version;
  }

  checkpointOf(name: string): number {
    return (this.slots.get(name) ?? this.lanes.get(name))?.checkpoint ?? 0;
  }

  /**
   * The lowest checkpoint of the node's own (SQLite) read models: they have applied the
   * log up to here. External projections run at their own pace and are not counted.
   */
  get position(): number {
    let min = Infinity;
    for (const s of this.slots.values()) min = Math.min(min, s.checkpoint);
    return min === Infinity ? 0 : min;
  }

  async start(): Promise<void> {
    this.startupBuffer = [];
    this.unsubscribe = this.store.subscribe((events) => this.onLive(events));
    for (const slot of this.slots.values()) await this.catchUp(slot);
    const buffered = this.startupBuffer;
    this.startupBuffer = null;
    for (const batch of buffered) this.onLive(batch);
    // External projections catch up in the background: a slow warehouse must not hold up start-up.
    for (const lane of this.lanes.values()) lane.start();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.drainLive();
    await Promise.all([...this.lanes.values()].map((l) => l.stop()));
  }

  /** Resolves once every projection has applied the log up to `position`. */
  waitFor(position: number, timeoutMs = 5000): Promise<void> {
    if (this.position >= position) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`read models did not reach position ${position} in ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.push({ position, resolve: done });
    });
  }

  /** Truncates the named projections (all when none named) and replays the log into them. */
  async rebuild(names: string[] = this.projectionNames, onProgress?: (name: string, position: number) => void): Promise<void> {
    for (const name of names) {
      const lane = this.lanes.get(name);
      if (lane) {
        await lane.rebuild();
        continue;
      }
      const slot = this.slots.get(name);
      if (!slot) throw new Error(`unknown projection ${name}; known: ${this.projectionNames.join(', ')}`);
      if (slot.held) throw new ParleyError('conflict', `projection ${name} is already rebuilding`);
      slot.held = [];
      // A rebuild can be redone from the log, so it need not wait for the disk per batch.
      this.db.pragma('synchronous = OFF');
      try {
        this.reset(slot);
        await this.catchUp(slot, onProgress);
        for (const batch of slot.held) this.apply(slot, batch);
      } finally {
        this.db.pragma('synchronous = NORMAL');
        slot.held = null;
      }
    }
    this.notify();
  }

  private reset(slot: Slot): void {
    const p = slot.projection;
    this.db.transaction(() => {
      p.truncate(this.db);
      this.saveCheckpoint(p, 0);
    })();
    slot.checkpoint = 0;
  }

  private async catchUp(slot: Slot, onProgress?: (name: string, position: number) => void): Promise<void> {
    for (;;) {
      const events = await this.store.readAll(slot.checkpoint, this.batchSize);
      if (events.length === 0) return;
      this.apply(slot, events);
      onProgress?.(slot.projection.name, slot.checkpoint);
    }
  }

  /**
   * Live batches are applied just after the feed delivered them, not while it does: the
   * appenders get their acks and the fan-out sends its frames first. Readers that need a
   * read model to include a write wait for it (`waitFor`). Batches that queue up meanwhile
   * are applied together, in one transaction for every read model.
   */
  private onLive(events: StoredEvent[]): void {
    if (this.startupBuffer) {
      this.startupBuffer.push(events);
      return;
    }
    this.live.push(events);
    if (!this.drainScheduled) {
      this.drainScheduled = true;
      setImmediate(() => this.drainLive());
    }
  }

  private drainLive(): void {
    this.drainScheduled = false;
    if (this.live.length === 0) return;
    const events = this.live.length === 1 ? this.live[0]! : this.live.flat();
    this.live = [];
    this.db.transaction(() => {
      for (const slot of this.slots.values()) {
        if (slot.held) slot.held.push(events);
        else this.apply(slot, events);
      }
    })();
    for (const lane of this.lanes.values()) lane.poke();
    this.notify();
  }

  private apply(slot: Slot, events: StoredEvent[]): void {
    const fresh = events.filter((e) => e.position > slot.checkpoint);
    if (fresh.length === 0) return;
    const relevant = fresh.filter((e) => slot.handles.has(e.type));
    const last = fresh[fresh.length - 1]!.position;
    // Nested in a caller's transaction this is a savepoint; alone, its own transaction.
    this.db.transaction(() => {
      if (relevant.length > 0) slot.projection.handle(relevant, this.db);
      this.saveCheckpoint(slot.projection, last);
    })();
    slot.checkpoint = last;
    this.options.onApplied?.(slot.projection.name, last, relevant.length);
  }

  private saveCheckpoint(p: Projection, position: number): void {
    prepared(
      this.db,
      'INSERT INTO projection_checkpoints VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET version = excluded.version, position = excluded.position',
    ).run(p.name, p.version, position);
  }

  private notify(): void {
    if (this.waiters.length === 0) return;
    const at = this.position;
    const still: typeof this.waiters = [];
    for (const w of this.waiters) (w.position <= at ? w.resolve() : still.push(w));
    this.waiters = still;
  }
}
