/**
 * Reads of the EventStoreDB log, as the port needs them.
 *
 * `$all` scans page through the client's `readAll` and keep this log's events in process:
 * the v6 client's `readAll` has no filter parameter (it always asks for none), so the
 * server-side filter (`names.ts`' prefix) is used where it matters most, on the live
 * feed's subscription (live-feed.ts), and catch-up reads pay for skipping other streams.
 * A read starts at a position inclusively, so events at or before it are dropped here.
 */
import type { AllStreamResolvedEvent, EventStoreDBClient, ResolvedEvent } from '@eventstore/db-client';
import type { StoredEvent } from '../port.js';
import { fromRecorded, type EsRecordedEvent } from './event-data.js';
import { isStreamNotFound, translateError, EventStoreDbError } from './errors.js';
import { portStreamOf, type Names } from './names.js';
import { endPositionOf, isAfter, positionOf, revisionOfSeq, seqOfRevision, startAfter, type EsPosition } from './positions.js';

const PAGE = 500;

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
export async function* scanAll(client: EventStoreDBClient, after: number): AsyncGenerator<AllRecord> {
  let from = startAfter(after);
  for (;;) {
    let read = 0;
    let last = from;
    const page = client.readAll({ fromPosition: from, maxCount: PAGE, direction: 'forwards' });
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
export async function lastPosition(client: EventStoreDBClient, keep: (esStream: string) => boolean): Promise<number> {
  let from: 'end' | EsPosition = 'end';
  for (;;) {
    let read = 0;
    let oldest: EsPosition | undefined;
    try {
      for await (const resolved of client.readAll({ fromPosition: from, maxCount: PAGE, direction: 'backwards' }) as AsyncIterable<AllStreamResolvedEvent>) {
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
export async function readAllOf(client: EventStoreDBClient, names: Names, after: number, limit: number): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  if (limit <= 0) return out;
  for await (const { event, position } of scanAll(client, after)) {
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
export async function readEsStream(client: EventStoreDBClient, esStream: string, read: StreamRead): Promise<EsRecordedEvent[]> {
  const out: EsRecordedEvent[] = [];
  if (read.limit <= 0 || read.fromSeq < 1) return out;
  try {
    for await (const resolved of client.readStream(esStream, {
      fromRevision: revisionOfSeq(read.fromSeq),
      direction: read.direction,
      maxCount: read.limit,
    }) as AsyncIterable<ResolvedEvent>) {
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
export async function esStreamVersion(client: EventStoreDBClient, esStream: string): Promise<number> {
  try {
    for await (const resolved of client.readStream(esStream, { fromRevision: 'end', direction: 'backwards', maxCount: 1 }) as AsyncIterable<ResolvedEvent>) {
      if (resolved.event) return seqOfRevision(resolved.event.revision);
    }
  } catch (err) {
    if (isStreamNotFound(err)) return 0;
    throw translateError(err, `read ${esStream}`);
  }
  return 0;
}
