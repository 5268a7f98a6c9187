/**
 * The idempotency records of the commands this node ran or answered lately, so a repeat
 * that reaches the same node (a client resending its outbox after a reconnect) is answered
 * without being decided again. Deciding a repeat would append nothing, yet it would drop
 * the conversation's cached state (its events were already applied to it) and fail the
 * commands pipelined behind it. A record never changes once written, so a cached one is
 * never stale; one that is not here is found by the store's check inside the append.
 */
import { BoundedMap, type IdempotencyRecord } from '../store/index.js';

export class RecentRecords {
  private readonly records: BoundedMap<string, IdempotencyRecord>;

  constructor(max: number) {
    this.records = new BoundedMap(max);
  }

  get(key: string): IdempotencyRecord | undefined {
    return this.records.get(key);
  }

  /** Remembers `record` under `key` (the current key form, whatever key it was found under). */
  remember(key: string, record: IdempotencyRecord): void {
    this.records.set(key, record);
  }
}
