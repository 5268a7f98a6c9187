/**
 * The log's head position as of now, for a refusal's last check: before a node says
 * `forbidden` from its read models, it makes sure they include everything the log held when
 * the request arrived, since another node of the cluster may have written it (the
 * conversation created, the user added) and this one not read it yet.
 *
 * Fetched once at a time: a caller that arrives while a fetch is in flight may be later than
 * that fetch's reading, so it waits for the next one, which every such caller shares. A
 * stream of refusals costs the store at most one head request in flight and one queued.
 */
import { ParleyError } from '../../protocol/index.js';
import { MEMBERSHIP_READ_MODEL, type ReadModelRunner } from '../../projections/index.js';
import type { LogCursor } from '../store/index.js';

/** `T`: the head as a position (a number) or, on a log that may be partitioned, a cursor. */
export class LogHead<T = number> {
  private inFlight: Promise<T> | undefined;
  private next: Promise<T> | undefined;

  constructor(private readonly fetchHead: () => Promise<T>) {}

  /** A head read after this call was made. */
  latest(): Promise<T> {
    if (!this.inFlight) return this.start();
    return (this.next ??= this.inFlight
      .catch(() => undefined)
      .then(() => {
        this.next = undefined;
        return this.start();
      }));
  }

  private start(): Promise<T> {
    const fetch: Promise<T> = this.fetchHead().finally(() => {
      if (this.inFlight === fetch) this.inFlight = undefined;
    });
    this.inFlight = fetch;
    return fetch;
  }
}

/**
 * Resolves once the read models include the log's head as of the call. Readers do not wait
 * for a read model stopped on a failure (a full disk, a poison event), and its stale
 * membership must not refuse a member: a refusal it cannot confirm is `unavailable`.
 */
export function caughtUpWithLog(head: LogHead<LogCursor>, runner: Pick<ReadModelRunner, 'waitForCursor' | 'cursorOf'>): () => Promise<void> {
  return async () => {
    const at = await head.latest();
    await runner.waitForCursor(at);
    if (!runner.cursorOf(MEMBERSHIP_READ_MODEL).reaches(at)) throw new ParleyError('unavailable', 'The read models are behind the log; try again');
  };
}
