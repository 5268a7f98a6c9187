/**
 * Idempotency keys in EventStoreDB: the design, and where keys are found.
 *
 * EventStoreDB de-duplicates an append by its event ids only when it is retried at the
 * exact expected revision it was first made at (under `any` only while the ids are in a
 * server cache); Parley needs "the same command id is applied once", across restarts and
 * nodes, whatever version the retry was decided at. So:
 *
 * 1. The record rides in the first event's metadata (event-data.ts): the log is the truth,
 *    and the record is durable exactly when the events are (one append is atomic).
 * 2. The events' ids are derived from the key, so a retry after a lost answer at the same
 *    expected revision is recognised by the server itself, and a retry at a stale revision
 *    (wrong expected version) finds the key among the stream's newer events by id.
 * 3. Lookups beyond that go to an index: one stream per key, `<ns>.idempotency-<sha256>`,
 *    holding one event with the record and where the append landed. It is written with
 *    expected revision NO_STREAM after the events and before the append resolves, so a
 *    caller that saw "ok" finds the key from any node, and the first writer of a key wins.
 *    A key-only append (no events) has only this stream: its NO_STREAM write is atomic.
 * 4. A crash between the events and the index write leaves the key only in the log;
 *    index-repair.ts re-indexes keyed events after a checkpoint, on connect and
 *    periodically. Until it has run, a repeat decided at a *newer* version than the
 *    original (another node, after catching up) could append again: that window is as
 *    long as the repair interval, after a crash, for a command retried in it.
 *
 * Why not a claim stream written first (exact, without a window): it costs a second
 * write on every keyed append, and a claim whose append never landed needs a takeover
 * protocol to tell "in flight" from "crashed". The JetStream adapter makes the same trade.
 */
import type { EventStoreDBClient, ResolvedEvent } from '@eventstore/db-client';
import { BoundedMap } from '../bounded-map.js';
import type { IdempotencyRecord } from '../port.js';
import { derivedUuid } from './event-data.js';
import { isStreamNotFound, isWrongExpectedVersion, translateError } from './errors.js';
import { giveUpOn } from './log-reads.js';
import { idempotencyStreamOf, type Names } from './names.js';

export const INDEX_EVENT = 'ParleyIdempotencyRecorded';
const CHECKPOINT_EVENT = 'ParleyIdempotencyCheckpoint';

export interface IndexEntry extends IdempotencyRecord {
  /** The port stream the append went to, and its version after it. */
  stream: string;
  version: number;
}

/** An index event's data as an entry, or undefined when it is not one (or is another key's). */
export function entryOf(data: unknown, key?: string): IndexEntry | undefined {
  const d = data as Partial<IndexEntry> | null | undefined;
  if (!d || typeof d !== 'object' || typeof d.key !== 'string' || typeof d.fingerprint !== 'string') return undefined;
  if (key !== undefined && d.key !== key) return undefined;
  return { key: d.key, fingerprint: d.fingerprint, result: d.result ?? null, stream: String(d.stream ?? ''), version: Number(d.version ?? 0) };
}

export function recordOf(entry: IndexEntry): IdempotencyRecord {
  return { key: entry.key, fingerprint: entry.fingerprint, result: entry.result };
}

export class IdempotencyIndex {
  // Recently seen entries, so a retry storm does not read the database for every attempt.
  private readonly recent = new BoundedMap<string, IndexEntry>(10_000);

  constructor(
    private readonly client: EventStoreDBClient,
    private readonly names: Names,
  ) {}

  async find(key: string, signal?: AbortSignal): Promise<IndexEntry | undefined> {
    const cached = this.recent.get(key);
    if (cached) return cached;
    const esStream = idempotencyStreamOf(this.names, key);
    try {
      const read = this.client.readStream(esStream, { fromRevision: 'start', direction: 'forwards', maxCount: 1 });
      for await (const resolved of giveUpOn(read, signal) as AsyncIterable<ResolvedEvent>) {
        // A SHA-256 collision is not a practical concern, but another key's record must never answer.
        const entry = entryOf(resolved.event?.data, key);
        if (entry) this.recent.set(key, entry);
        return entry;
      }
    } catch (err) {
      if (isStreamNotFound(err)) return undefined;
      throw translateError(err, `read ${esStream}`);
    }
    return undefined;
  }

  /** Records the entry unless the key has one; returns the entry that stands (the first). */
  async record(entry: IndexEntry, signal?: AbortSignal): Promise<IndexEntry> {
    const esStream = idempotencyStreamOf(this.names, entry.key);
    try {
      await this.client.appendToStream(
        esStream,
        { id: derivedUuid('parley-index', entry.key), contentType: 'application/json', type: INDEX_EVENT, data: { ...entry }, metadata: undefined },
        { expectedRevision: 'no_stream' },
      );
    } catch (err) {
      if (!isWrongExpectedVersion(err)) throw translateError(err, `write ${esStream}`);
      const first = await this.find(entry.key, signal);
      if (first) return first;
      throw translateError(err, `write ${esStream}`);
    }
    this.recent.set(entry.key, entry);
    return entry;
  }

  /** Every keyed event up to this position is known to be indexed. */
  async checkpoint(signal?: AbortSignal): Promise<{ position: number; revision: bigint | 'no_stream' }> {
    try {
      const read = this.client.readStream(this.names.checkpointStream, { fromRevision: 'end', direction: 'backwards', maxCount: 1 });
      for await (const resolved of giveUpOn(read, signal) as AsyncIterable<ResolvedEvent>) {
        const position = Number((resolved.event?.data as { position?: unknown } | undefined)?.position);
        return { position: Number.isSafeInteger(position) && position > 0 ? position : 0, revision: resolved.event?.revision ?? 'no_stream' };
      }
    } catch (err) {
      if (!isStreamNotFound(err)) throw translateError(err, `read ${this.names.checkpointStream}`);
    }
    return { position: 0, revision: 'no_stream' };
  }

  /** Moves the checkpoint forward (never back); another node moving it meanwhile wins. */
  async advanceCheckpoint(position: number, signal?: AbortSignal): Promise<void> {
    const current = await this.checkpoint(signal);
    if (current.position >= position) return;
    try {
      await this.client.appendToStream(
        this.names.checkpointStream,
        { id: derivedUuid('parley-checkpoint', String(position)), contentType: 'application/json', type: CHECKPOINT_EVENT, data: { position }, metadata: undefined },
        { expectedRevision: current.revision },
      );
      // Old checkpoints are of no use: let the server drop them.
      if (current.revision === 'no_stream') await this.client.setStreamMetadata(this.names.checkpointStream, { maxCount: 16 });
    } catch (err) {
      if (!isWrongExpectedVersion(err)) throw translateError(err, `write ${this.names.checkpointStream}`);
    }
  }
}
