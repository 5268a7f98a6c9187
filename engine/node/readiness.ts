/**
 * `/ready`: whether a load balancer should send this node work. Three checks, each
 * reported by name so an operator sees which failed:
 * - `store`: a read that really reaches the log (a SQLite SELECT, a JetStream stream
 *   info), bounded in time: a store that hangs is as unready as one that fails;
 * - `read_models`: every running read model within PARLEY_READY_MAX_LAG events of the
 *   log's head. A read model stopped on a poison event is listed but does not count: it
 *   stops on every node alike, and taking every node out of rotation for it would turn
 *   one stale read model into an outage (DESIGN: a poison event never stops the node);
 * - `draining`: the node has been told to stop (drain.ts).
 */
import type { ReadModelRunner } from '../../projections/index.js';
import { headCursorOf, readAllAfter, type EventStore, type LogCursor } from '../store/index.js';

export type ReadyCheckName = 'store' | 'read_models' | 'draining';

export interface ReadyReport {
  status: 'ready' | 'not_ready';
  nodeId: string;
  failed: ReadyCheckName[];
  store: { ok: boolean; error?: string };
  readModels: { ok: boolean; lag: number; maxLag: number; behind: string[]; stopped: string[] };
  draining: boolean;
}

export interface ReadinessDeps {
  readonly nodeId: string;
  readonly store: Pick<EventStore, 'headPosition' | 'readAll'>;
  readonly runner: Pick<ReadModelRunner, 'projectionNames' | 'cursorOf' | 'statusOf'>;
  readonly maxLag: number;
  readonly draining: () => boolean;
  /** How long the store may take to answer (default 2 s: below a balancer's check timeout). */
  readonly storeTimeoutMs?: number;
}

export async function checkReadiness(deps: ReadinessDeps): Promise<ReadyReport> {
  const { head, store } = await probeStore(deps.store, deps.storeTimeoutMs ?? 2000);
  const readModels = readModelLag(deps.runner, head, deps.maxLag);
  const draining = deps.draining();
  const failed: ReadyCheckName[] = [];
  if (!store.ok) failed.push('store');
  if (!readModels.ok) failed.push('read_models');
  if (draining) failed.push('draining');
  return { status: failed.length === 0 ? 'ready' : 'not_ready', nodeId: deps.nodeId, failed, store, readModels, draining };
}

/** The log's head, read so it touches the store: the head, then a one-row read after it. */
async function probeStore(store: ReadinessDeps['store'], timeoutMs: number): Promise<{ head: LogCursor | null; store: ReadyReport['store'] }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
  });
  const probe = (async () => {
    const head = await headCursorOf(store);
    await readAllAfter(store, head, 1);
    return head;
  })();
  try {
    return { head: await Promise.race([probe, timeout]), store: { ok: true } };
  } catch (err) {
    probe.catch(() => undefined); // the late answer (or failure) of a timed-out probe goes nowhere
    return { head: null, store: { ok: false, error: err instanceof Error ? err.message.slice(0, 300) : 'unreadable' } };
  } finally {
    clearTimeout(timer);
  }
}

/** Lag of the running read models behind `head`; without a head (store down) they cannot be judged and count as not ok. */
function readModelLag(runner: ReadinessDeps['runner'], head: LogCursor | null, maxLag: number): ReadyReport['readModels'] {
  const behind: string[] = [];
  const stopped: string[] = [];
  let lag = 0;
  for (const name of runner.projectionNames) {
    if (runner.statusOf(name)?.state === 'failed') {
      stopped.push(name);
      continue;
    }
    if (head === null) continue;
    const l = runner.cursorOf(name).behind(head);
    lag = Math.max(lag, l);
    if (l > maxLag) behind.push(name);
  }
  return { ok: head !== null && behind.length === 0, lag, maxLag, behind, stopped };
}
