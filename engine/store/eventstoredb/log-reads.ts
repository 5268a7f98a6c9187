/**
 * Reads of the EventStoreDB log, as the port needs them: streams, and the newest event of
 * `$all` (read backwards, unfiltered: client 6's `readAll` takes no filter). Catch-up reads
 * of `$all` forwards are filtered on the server (filtered-reads.ts).
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
import { endPositionOf, positionOf, revisionOfSeq, seqOfRevision, type EsPosition } from './positions.js';

const PAGE = 500;

/** What a client read is, as far as giving up on it goes (a Readable with the client's cancel, or a subscription's unsubscribe). */
interface ClientRead {
  destroy(err?: Error): unknown;
  once(event: 'close', listener: () => void): unknown;
  cancel?(): Promise<void>;
  unsubscribe?(): Promise<void>;
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
    r.unsubscribe?.().catch(() => undefined);
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
