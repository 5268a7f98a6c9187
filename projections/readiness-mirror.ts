/**
 * What the read-model thread last reported of its read models (checkpoints, failures,
 * skips), mirrored on the main thread so readers here wait for the position they need
 * exactly as they would with an in-process runner (readiness.ts).
 */
import { LogCursor } from '../engine/store/index.js';
import { cursorOfEntries } from './cursor-entries.js';
import { closedBefore, readyFor, Waiters, type Readiness } from './readiness.js';
import type { ModelState } from './read-model-messages.js';
import type { ProjectionStatus } from './status.js';

export class ReadinessMirror {
  private readonly models = new Map<string, ModelState>();
  /** Readers waiting for a position. */
  readonly waiters = new Waiters();

  constructor(private readonly partitions: number) {}

  /** Where a read model of the thread is in the log, per partition, as it last reported. */
  cursorOf(name: string): LogCursor {
    const checkpoint = this.models.get(name)?.readiness.checkpoint;
    return checkpoint ? cursorOfEntries(checkpoint, this.partitions) : LogCursor.start(this.partitions);
  }

  /** As last reported; running with nothing skipped before the first report. */
  statusOf(name: string): ProjectionStatus {
    return this.models.get(name)?.status ?? { state: 'running', failure: null, skipped: [] };
  }

  /** The read model last reported a failure. */
  failed(name: string): boolean {
    return Boolean(this.models.get(name)?.status.failure);
  }

  record(states: ModelState[]): void {
    for (const state of states) this.models.set(state.readiness.name, state);
  }

  /** Lets through the readers the last report covers, and refuses those it closes. */
  settle(): void {
    const models = this.readiness();
    this.waiters.settle(
      (position) => readyFor(models, position),
      (position) => closedBefore(models, position),
    );
  }

  /** See ProjectionRunner.waitFor; `waiting`: runs when the reader has to wait. */
  waitFor(position: number, timeoutMs: number, waiting: () => void): Promise<void> {
    const models = this.readiness();
    const closed = closedBefore(models, position);
    if (closed) return Promise.reject(closed);
    if (readyFor(models, position)) return Promise.resolve();
    waiting();
    return this.waiters.wait(position, timeoutMs);
  }

  private readiness(): Readiness[] {
    return [...this.models.values()].map((m) => m.readiness);
  }
}
