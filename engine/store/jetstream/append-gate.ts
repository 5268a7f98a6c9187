/**
 * A node's side of a switch (`parley repartition`): the store stops taking appends once
 * the pointer leaves its generation, and says so with a retryable error.
 *
 * The node watches the pointer. While it names this store's generation as live, appends
 * pass. Once it says `switching` (the old streams are being sealed and the copy drains) or
 * names another generation, every append is refused with StoreUnavailableError, which
 * clients get as `unavailable` and retry (the outbox keeps the command and its id, so
 * the retry is exactly-once wherever it lands). An append that meets a sealed stream
 * before the watch saw the pointer move is answered the same way after one look at the
 * pointer.
 *
 * Chosen: the node does not reopen itself on the new generation. Its read models hold
 * checkpoints of the old log's positions and must rebuild, and every part of the node
 * holds the store; so it keeps serving reads of the old log, refuses appends, and reports
 * (onError, LogGenerationMovedError) that it must be restarted, which opens the pointer's
 * generation.
 */
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { isConcurrencyError, isStoreUnavailableError, StoreUnavailableError } from '../errors.js';
import type { EventStore } from '../port.js';
import { ensurePointerBucket, pointerBucket, readPointer, watchPointer, type LogPointer } from './log-pointer.js';
import { resolveOptions, type JetStreamStoreOptions } from './options.js';

export class LogGenerationMovedError extends Error {
  override readonly name = 'LogGenerationMovedError';
  readonly code = 'log_generation_moved';
}

/** What the gate needs of a store: its connection, and the methods it wraps. */
export type GatedStore = Pick<EventStore, 'append' | 'close'> & { readonly nc: NatsConnection };

class AppendGate {
  private refusal: StoreUnavailableError | undefined;
  /** Set once the pointer named another live generation: final until a restart. */
  private moved = false;

  constructor(
    private readonly kv: KV,
    private readonly generation: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Takes in a pointer: closes the gate while it says switching, for good once it names another generation. */
  see(pointer: LogPointer): void {
    if (this.moved) return;
    if (pointer.state === 'live' && pointer.generation === this.generation) {
      this.refusal = undefined; // a switch given up before the seal (not something repartition does)
      return;
    }
    const moved = pointer.state === 'live';
    this.refusal = new StoreUnavailableError(
      moved
        ? `the log moved to generation ${pointer.generation} (${pointer.partitions} partition(s)); this node appends no more until it is restarted`
        : `the log is switching to generation ${pointer.next!.generation} (parley repartition); try again shortly`,
    );
    if (moved) {
      this.moved = true;
      this.onError(
        new LogGenerationMovedError(
          `the log moved to generation ${pointer.generation} with ${pointer.partitions} partition(s): restart this node with PARLEY_PARTITIONS=${pointer.partitions}; until then it refuses appends (unavailable) and serves the old log's reads; its read models rebuild from the new log`,
        ),
      );
    }
  }

  /** The refusal for appends now, if any. */
  get closed(): StoreUnavailableError | undefined {
    return this.refusal;
  }

  /** After a failed append: one look at the pointer, in case the watch has not seen a move yet. */
  async recheck(): Promise<StoreUnavailableError | undefined> {
    const found = await readPointer(this.kv).catch(() => undefined);
    if (found) this.see(found.pointer);
    return this.refusal;
  }
}

/**
 * Makes `store` (opened on `generation` of the log named by `base`) refuse appends once
 * the pointer leaves that generation. Wraps the instance's own `append` and `close`, so
 * the store stays what it is for everything that checks its class.
 */
export async function gateAppends(store: GatedStore, base: JetStreamStoreOptions, generation: number, replicas: number): Promise<void> {
  const options = resolveOptions(base);
  const jsm = await jetstreamManager(store.nc, { timeout: options.requestTimeoutMs });
  // Created if missing, so a node started before the first repartition watches it too.
  const kv = (await ensurePointerBucket(store.nc, options.streamName, replicas).catch(() => undefined)) ?? (await pointerBucket(store.nc, jsm, options.streamName));
  if (!kv) return;
  const gate = new AppendGate(kv, generation, options.onError);
  const stopWatch = await watchPointer(kv, (p) => gate.see(p), options.onError);
  const append = store.append.bind(store);
  const close = store.close.bind(store);
  store.append = async (stream, events, appendOptions) => {
    const refused = gate.closed;
    if (refused) throw refused;
    try {
      return await append(stream, events, appendOptions);
    } catch (err) {
      // A conflict is the caller's; an outage already answers unavailable, and a look at the
      // pointer would only wait out another budget (a sealed stream refuses, it does not time out).
      if (isConcurrencyError(err) || isStoreUnavailableError(err)) throw err;
      const now = await gate.recheck();
      if (now) throw new StoreUnavailableError(now.message, { cause: err });
      throw err;
    }
  };
  store.close = async () => {
    stopWatch();
    await close();
  };
}
