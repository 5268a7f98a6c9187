/**
 * Reads of the EventStoreDB log, as the port needs them.
 *
 * `$all` scans page through the client's `readAll` and keep this log's events in process:
 * the v6 client's `readAll` has no filter parameter (it always asks for none), so the
 * server-side filter (`names.ts`' prefix) is used where it matters most, on the live
 * feed's subscription (live-feed.ts), and catch-up reads pay for skipping other streams.
 * A read starts at a position inclusively, so events at or before it are dropped here.
 *
 * Every read takes an optional AbortSignal: client 6 sets no deadline on any read, so a
 * read the store gives up on (its request timeout, or close) is destroyed here, which ends
 * the loop over it with StoreUnavailableError, and its gRPC call is cancelled, instead of
 * both waiting on a silent server for ever.
 */
import type { AllStreamResolvedEvent, EventStoreDBClient, ResolvedEvent } from '@eventstore/db-client';
import type { StoredEvent } from '../port.js';
import { fromRecorded, type EsRecordedEvent } from './event-data.js';
import { StoreUnavailableError } from '../errors.js';
import { isStreamNotFound, translateError, EventStoreDbError } from './errors.js';
import { portStreamOf, type Names } from './names.js';
import { endPositionOf, isAfter, positionOf, revisionOfSeq, seqOfRevision, startAfter, type EsPosition } from './positions.js';

const PAGE = 500;

/** What a client read is, as far as giving up on it goes (a Readable with the client's cancel). */
interface ClientRead {
  destroy(err?: Error): unknown;
  once(event: 'close', listener: () => void): unknown;
  cancel?(): Promise<void>;
}

/**
 * The read, destroyed and its call cancelled when `signal` aborts (see the header). The
 * listener goes when the read closes: the store's lifetime signal outlives millions of reads.
 */
export function giveUpOn<R>(read: R, signal: AbortSignal | undefined): R {
  if (!signal) return read;
  const r = read as unknown as ClientRead;
  const stop = () => {
    r.destroy(new StoreUnavailableError('EventStoreDB read given up on (request timeout or store closing)'));
    r.cancel?.().catch(() => undefined);
  };
  if (signal.aborted) {
    stop();
    return read;
  }
  signal.addEventListener('abort', stop, { once: true });
  r.once('close', () => signal.removeEventListener('abort', stop));
  return read;
}

export interface AllRecord {
  event: EsRecordedEvent & { position: EsPosition };
  position: number;
}

/**
 * Every event of `$all` after `after`, in `$all` order, page by page, to the end as it is now.
 * A page resumes at the exact (commit, prepare) pair of the last event seen, not at its
 * Parley position: where another application's events have commit > prepare, resuming at
 * {prepare, prepare} would read events again.
 */
export async function* scanAll(client: EventStoreDBClient, after: number, signal?: AbortSignal): AsyncGenerator<AllRecord> {
  let from = startAfter(after);
  for (;;) {
    let read = 0;
    let last = from;
    const page = giveUpOn(client.readAll({ fromPosition: from, maxCount: PAGE, direction: 'forwards' }), signal);
    try {
      for await (const resolved of page as AsyncIterable<AllStreamResolvedEvent>) {
        read++;
        const event = resolved.event;
        if (!event || !startsAfter(event.position, from)) continue;
        last = event.position;
        yield { event: event as AllRecord['event'], position: positionOf(event.position) };
      }
    } catch (err) {
      throw translateError(err, 'read $all');
    }
    if (read < PAGE || last === from) return;
    from = last;
  }
}

/** Whether an event read from `from` is past it (a read starts at its position inclusively). */
export function startsAfter(position: EsPosition, from: 'start' | EsPosition): boolean {
  return from === 'start' || isAfter(position, from);
}

/**
 * Where the newest event in `$all` whose stream passes `keep` ends (0 if none): its
 * position for Parley's events, its commit position for another application's (positions.ts).
 */
export async function lastPosition(client: EventStoreDBClient, keep: (esStream: string) => boolean, signal?: AbortSignal): Promise<number> {
  let from: 'end' | EsPosition = 'end';
  for (;;) {
    let read = 0;
    let oldest: EsPosition | undefined;
    try {
      for await (const resolved of giveUpOn(client.readAll({ fromPosition: from, maxCount: PAGE, direction: 'backwards' }), signal) as AsyncIterable<AllStreamResolvedEvent>) {
        read++;
        const event = resolved.event;
        if (!event) continue;
        if (keep(event.streamId)) return endPositionOf(event.position);
        oldest = event.position;
      }
    } catch (err) {
      throw translateError(err, 'read $all backwards');
    }
    if (read < PAGE || !oldest) return 0;
    // A backwards read starts at its position inclusively: the oldest seen is skipped by keep() again, harmlessly.
    if (from !== 'end' && oldest.commit === from.commit) return 0;
    from = oldest;
  }
}

/** This log's events in `$all` after `after`, at most `limit`. */
export async function readAllOf(client: EventStoreDBClient, names: Names, after: number, limit: number, signal?: AbortSignal): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  if (limit <= 0) return out;
  for await (const { event, position } of scanAll(client, after, signal)) {
    const stream = portStreamOf(names, event.streamId);
    if (stream === undefined) continue;
    out.push(fromRecorded(event, stream, seqOfRevision(event.revision), position));
    if (out.length >= limit) break;
  }
  return out;
}

export interface StreamRead {
  fromSeq: number;
  direction: 'forwards' | 'backwards';
  limit: number;
}

/** Recorded events of one EventStoreDB stream ([] when it does not exist). */
export async function readEsStream(client: EventStoreDBClient, esStream: string, read: StreamRead, signal?: AbortSignal): Promise<EsRecordedEvent[]> {
  const out: EsRecordedEvent[] = [];
  if (read.limit <= 0 || read.fromSeq < 1) return out;
  try {
    const events = client.readStream(esStream, { fromRevision: revisionOfSeq(read.fromSeq), direction: read.direction, maxCount: read.limit });
    for await (const resolved of giveUpOn(events, signal) as AsyncIterable<ResolvedEvent>) {
      if (resolved.event) out.push(resolved.event as EsRecordedEvent);
    }
  } catch (err) {
    if (isStreamNotFound(err)) return [];
    throw translateError(err, `read ${esStream}`);
  }
  return out;
}

/** A stream's events as the port's, with their global positions. */
export function storedOf(events: EsRecordedEvent[], stream: string): StoredEvent[] {
  return events.map((e) => {
    const position = (e as { position?: EsPosition }).position;
    if (!position || position.prepare <= 0n) {
      throw new EventStoreDbError(`EventStoreDB returned ${e.streamId}@${e.revision} without its log position; Parley needs EventStoreDB 20.6 or newer`);
    }
    return fromRecorded(e, stream, seqOfRevision(e.revision), positionOf(position));
  });
}

/** The version of an EventStoreDB stream (0 when it does not exist). */
export async function esStreamVersion(client: EventStoreDBClient, esStream: string, signal?: AbortSignal): Promise<number> {
  try {
    for await (const resolved of giveUpOn(client.readStream(esStream, { fromRevision: 'end', direction: 'backwards', maxCount: 1 }), signal) as AsyncIterable<ResolvedEvent>) {
      if (resolved.event) return seqOfRevision(resolved.event.revision);
    }
  } catch (err) {
    if (isStreamNotFound(err)) return 0;
    throw translateError(err, `read ${esStream}`);
  }
  return 0;
}
