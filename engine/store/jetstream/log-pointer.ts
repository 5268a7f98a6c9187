/**
 * The pointer record: which generation of streams is the live log (docs/scaling.md,
 * "Changing N"). One KV key, `pointer` in the bucket `<stream>_LOG`, holding
 * `{ generation, partitions, state, next? }`, always written by compare-and-set so two
 * `parley repartition` runs (or a restarted one) cannot both move it.
 *
 * No record is generation 0 at its recorded partition count: every log from before
 * generations existed is read as it is, with no migration. `state: 'switching'` means the
 * live generation takes no more appends (its streams are sealed) while the copy into
 * `next` drains; nodes answer appends with a retryable `unavailable` meanwhile.
 */
import { JetStreamApiCodes, JetStreamApiError, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';

export interface GenerationRef {
  generation: number;
  partitions: number;
}

export interface LogPointer extends GenerationRef {
  state: 'live' | 'switching';
  /** The generation being switched to (set while switching). */
  next?: GenerationRef;
}

/** A pointer as read, with the KV revision a compare-and-set must name (0: no record yet). */
export interface PointerAt {
  pointer: LogPointer;
  revision: number;
}

export class LogPointerConflictError extends Error {
  override readonly name = 'LogPointerConflictError';
  readonly code = 'log_pointer_conflict';
}

export class MalformedLogPointerError extends Error {
  override readonly name = 'MalformedLogPointerError';
  readonly code = 'malformed_log_pointer';
}

const KEY = 'pointer';

export const pointerBucketOf = (stream: string): string => `${stream}_LOG`;

/** The pointer's bucket if it exists: reading must not create one (a plain log has none). */
export async function pointerBucket(nc: NatsConnection, jsm: JetStreamManager, stream: string): Promise<KV | undefined> {
  const bucket = pointerBucketOf(stream);
  try {
    await jsm.streams.info(`KV_${bucket}`);
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return undefined;
    throw err;
  }
  return new Kvm(nc).open(bucket);
}

/** The pointer's bucket, created when missing (by `parley repartition`, with the log's replicas). */
export function ensurePointerBucket(nc: NatsConnection, stream: string, replicas: number): Promise<KV> {
  return new Kvm(nc).create(pointerBucketOf(stream), { replicas, history: 5, storage: 'file', allow_direct: false });
}

function parsePointer(raw: unknown): LogPointer {
  const p = raw as Partial<LogPointer> | null;
  const ref = (r: Partial<GenerationRef> | undefined | null) =>
    !!r && Number.isSafeInteger(r.generation) && r.generation! >= 0 && Number.isSafeInteger(r.partitions) && r.partitions! >= 1;
  if (!ref(p) || (p!.state !== 'live' && p!.state !== 'switching') || (p!.state === 'switching' && !ref(p!.next))) {
    throw new MalformedLogPointerError(`the log pointer is not a Parley pointer: ${JSON.stringify(raw)}`);
  }
  return p as LogPointer;
}

/** The pointer in `kv`, or undefined when none was ever written. */
export async function readPointer(kv: KV | undefined): Promise<PointerAt | undefined> {
  const entry = await kv?.get(KEY);
  if (!entry || entry.operation !== 'PUT') return undefined;
  return { pointer: parsePointer(entry.json()), revision: entry.revision };
}

/** Writes `next` if the pointer is still at `revision` (0: not written yet), else LogPointerConflictError. */
export async function movePointer(kv: KV, revision: number, next: LogPointer): Promise<number> {
  try {
    return revision === 0 ? await kv.create(KEY, JSON.stringify(next)) : await kv.update(KEY, JSON.stringify(next), revision);
  } catch (err) {
    if (err instanceof Error && /wrong last sequence|key exists/i.test(err.message)) {
      throw new LogPointerConflictError('the log pointer moved meanwhile (another parley repartition?)', { cause: err });
    }
    throw err;
  }
}

/** Calls `seen` with the pointer now (if any) and every one written later, until the returned stop is called. */
export async function watchPointer(kv: KV, seen: (pointer: LogPointer) => void, onError: (err: unknown) => void): Promise<() => void> {
  const updates = await kv.watch({ key: KEY });
  (async () => {
    for await (const e of updates) {
      if (e.operation !== 'PUT') continue;
      try {
        seen(parsePointer(e.json()));
      } catch (err) {
        onError(err);
      }
    }
  })().catch(onError);
  return () => updates.stop();
}
