/**
 * Start-up, second job: the read models — built-in, the extensions' and the caller's
 * projections — catch up with the log before the node accepts traffic. Built-in read
 * models are applied on their own thread (projections/read-models.ts); `runner.db` is
 * this thread's connection, for reads.
 *
 * A projection that throws stops alone and retries (projections/runner.ts): counted,
 * shown in /v1/admin/projections, and logged — on stderr until the node's log exists.
 */
import type { FastifyBaseLogger } from 'fastify';
import { ReadModels, builtInProjections, type ExternalProjection, type Projection } from '../../projections/index.js';
import type { EventStore } from '../store/index.js';
import { StartupError, type NodeConfig } from './config/index.js';
import type { Metrics } from './metrics.js';
import { openInDataDir } from './open-store.js';

export interface StartedReadModels {
  readonly runner: ReadModels;
  /** From now on a stopped projection is reported to `log`. */
  reportErrorsTo(log: FastifyBaseLogger): void;
}

/** Opens readmodels.sqlite, runs every projection up to the head of the log; on failure closes what it opened. */
export async function startReadModels(
  config: NodeConfig,
  store: EventStore,
  projections: Array<Projection | ExternalProjection>,
  metrics: Metrics,
): Promise<StartedReadModels> {
  let logProjectionError = (projection: string, err: unknown, failure: object) => console.error(`projection ${projection} stopped; retrying`, failure, err);
  const runner = openInDataDir(
    config.dataDir,
    'readmodels.sqlite',
    (file) =>
      new ReadModels(store, file, [...builtInProjections(), ...projections], {
        thread: config.readModelThread,
        checkpointBytes: config.readModelWalBytes,
        nice: config.readModelNice,
        liveIntervalMs: config.readModelLiveMs,
        onError: (projection, err, failure) => {
          metrics.projectionErrors.inc({ projection });
          metrics.projectionFailed.set({ projection }, 1);
          logProjectionError(projection, err, failure);
        },
        onRecovered: (projection) => metrics.projectionFailed.set({ projection }, 0),
      }),
  );
  for (const projection of runner.projectionNames) metrics.projectionFailed.set({ projection }, 0);
  try {
    await runner.start();
  } catch (err) {
    await runner.stop().catch(() => undefined);
    runner.close();
    throw new StartupError(`${(err as Error).message}; to apply read models on the main thread instead, set PARLEY_READ_MODEL_THREAD=off`, { cause: err });
  }
  return {
    runner,
    reportErrorsTo(log) {
      logProjectionError = (projection, err, failure) =>
        log.error({ err, projection, failure }, 'projection stopped on an event; it retries (skip a poison event: parley skip --help)');
    },
  };
}
