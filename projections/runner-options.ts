/** How a projection runner is set up, and what it reads. */
import type { EventStore } from '../engine/store/index.js';
import type { ProjectionFailure } from './status.js';

export interface RunnerOptions {
  /** How many events to read from the log at a time while catching up. */
  batchSize?: number;
  /** Observes each applied batch: projection name, its new checkpoint, events handled. */
  onApplied?: (projection: string, position: number, events: number) => void;
  /**
   * Each failed attempt of a projection (it stops and is retried); default: logged to
   * stderr. `failure` says where it stopped and when it tries again.
   */
  onError?: (projection: string, err: unknown, failure: ProjectionFailure) => void;
  /** A stopped projection applied again (after a retry, a skip or a rebuild). */
  onRecovered?: (projection: string) => void;
  /** Pause before the first retry of a stopped projection, doubled per failure up to `maxMs`. Default 100 ms .. 10 s. */
  retry?: { initialMs?: number; maxMs?: number };
  /** Readiness may have changed (a batch applied, a projection stopped or recovered): for a mirror of it elsewhere. */
  onProgress?: () => void;
}

/** What the runner reads: the log, page by page, and the live feed. */
export type ProjectionFeed = Pick<EventStore, 'readAll' | 'subscribe'>;
