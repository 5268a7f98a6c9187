/**
 * Catch-up reads of `$all` filtered on the server: a page is a catch-up subscription with a
 * stream-name prefix filter (client 6's `readAll` takes no filter), ended by hand as
 * filtered-page.ts decides, so a read over a busy shared `$all` is not sent every other
 * application's events.
 *
 * Checkpoints and caughtUp are put back among the events in `$all` order (SignalOrder,
 * with the stream's `readableLength`) before the decision sees them. Like every read here, a page takes an AbortSignal that
 * gives up on it (log-reads.ts' giveUpOn): a silent server must not hold it for ever.
 */
import { streamNameFilter, type AllStreamResolvedEvent, type AllStreamSubscription, type EventStoreDBClient } from '@eventstore/db-client';
import { StoreUnavailableError } from '../errors.js';
import type { StoredEvent } from '../port.js';
import { fromRecorded } from './event-data.js';
import { translateError } from './errors.js';
import { PAGE_START, SignalOrder, needsPage, pagePrefixes, pageStep, resumeAfter, type EndOfAll, type PageBounds, type PageEnd, type PageSignal } from './filtered-page.js';
import { giveUpOn, type AllRecord } from './log-reads.js';
import { isEventStream, portStreamOf, type Names } from './names.js';
import { positionOf, seqOfRevision, startAfter, type EsPosition } from './positions.js';

/** Events taken per page by a scan. */
const SCAN_PAGE = 1000;
/** The client's checkpoint interval multiplier: one checkpoint per server search window (the least there is). */
const CHECKPOINT_INTERVAL = 1;

export interface FilteredRead {
  /** Stream-name prefixes of the events wanted: the server's filter. */
  prefixes: readonly string[];
  /** Whether a delivered event is wanted (`end`'s stream can bring others along). */
  wanted: (streamId: string) => boolean;
}

export interface FilteredPage {
  events: AllRecord['event'][];
  end: PageEnd;
}

/** This log's events (its stream prefix, names.ts). */
export function eventsOf(names: Names): FilteredRead {
  return { prefixes: [names.eventPrefix], wanted: (s) => isEventStream(names, s) };
}

/** This log's events in `$all` after `after`, at most `limit` (the port's readAll). */
export async function readAllOf(client: EventStoreDBClient, names: Names, after: number, limit: number, signal?: AbortSignal): Promise<StoredEvent[]> {
  const records = await readFiltered(client, eventsOf(names), after, limit, signal);
  return records.map(({ event, position }) => fromRecorded(event, portStreamOf(names, event.streamId)!, seqOfRevision(event.revision), position));
}

/** The last event of `$all` now (undefined when `$all` is empty): one event, unfiltered. */
export async function endOfAll(client: EventStoreDBClient, signal?: AbortSignal): Promise<EndOfAll | undefined> {
  try {
    const last = giveUpOn(client.readAll({ fromPosition: 'end', direction: 'backwards', maxCount: 1 }), signal);
    for await (const resolved of last as AsyncIterable<AllStreamResolvedEvent>) {
      if (resolved.event) return { position: resolved.event.position, streamId: resolved.event.streamId };
    }
  } catch (err) {
    throw translateError(err, 'read the end of $all');
  }
  return undefined;
}

/** Up to `limit` wanted events after `after` and up to the end of `$all` now, filtered on the server. */
export async function readFiltered(client: EventStoreDBClient, read: FilteredRead, after: number, limit: number, signal?: AbortSignal): Promise<AllRecord[]> {
  if (limit <= 0) return [];
  const from = startAfter(after);
  const end = await endOfAll(client, signal);
  if (!needsPage(from, end)) return [];
  const page = await readFilteredPage(client, read, { from, end: end.position, limit }, pagePrefixes(read.prefixes, end), signal);
  return page.events.map(recordOf);
}

/** Every wanted event after `after`, to the end of `$all` as it was when the scan began, page by page. */
export async function* scanFiltered(client: EventStoreDBClient, read: FilteredRead, after: number, signal?: AbortSignal): AsyncGenerator<AllRecord> {
  let from: 'start' | EsPosition | undefined = startAfter(after);
  const end = await endOfAll(client, signal);
  if (!needsPage(from, end)) return;
  const prefixes = pagePrefixes(read.prefixes, end);
  while (from !== undefined && needsPage(from, end)) {
    const page = await readFilteredPage(client, read, { from, end: end.position, limit: SCAN_PAGE }, prefixes, signal);
    for (const event of page.events) yield recordOf(event);
    from = resumeAfter(page.end, page.events.at(-1)?.position);
  }
}

/**
 * One page: a filtered catch-up subscription from `bounds.from`, unsubscribed (and its
 * stream destroyed) as soon as the page is done, fails, or `signal` gives up on it.
 */
export function readFilteredPage(
  client: EventStoreDBClient,
  read: FilteredRead,
  bounds: PageBounds,
  prefixes: string[],
  signal?: AbortSignal,
): Promise<FilteredPage> {
  return new Promise((resolve, reject) => {
    const events: AllRecord['event'][] = [];
    const order = new SignalOrder();
    let progress = PAGE_START;
    let settled = false;
    let sub: AllStreamSubscription | undefined;

    const settle = (err?: Error) => {
      if (settled) return;
      settled = true;
      sub?.unsubscribe().catch(() => undefined);
      sub?.destroy();
      if (err) reject(err);
      else resolve({ events, end: progress.done! });
    };
    const apply = (signals: PageSignal[], event?: AllRecord['event']) => {
      for (const s of signals) {
        if (settled) return;
        const step = pageStep(bounds, progress, s);
        progress = step.progress;
        if (step.take && event && s.kind === 'event') events.push(event);
        if (progress.done) settle();
      }
    };
    const announce = (s: PageSignal) => {
      if (!settled && sub) apply(order.announce(s, sub.readableLength));
    };

    try {
      const filter = streamNameFilter({
        prefixes,
        checkpointInterval: CHECKPOINT_INTERVAL,
        checkpointReached: (_sub, position) => announce({ kind: 'checkpoint', position }),
      });
      sub = giveUpOn(client.subscribeToAll({ fromPosition: bounds.from, filter }), signal);
    } catch (err) {
      settle(translateError(err, 'subscribe to $all'));
      return;
    }
    sub.on('data', (resolved: AllStreamResolvedEvent) => {
      if (settled) return;
      const event = resolved.event as AllRecord['event'] | undefined;
      // An event without a record (none is expected from $all) still counts as delivered.
      const signal: PageSignal = event?.position
        ? { kind: 'event', position: event.position, wanted: read.wanted(event.streamId) }
        : { kind: 'event', position: { commit: -1n, prepare: -1n }, wanted: false };
      apply(order.deliver(signal), event);
    });
    sub.on('caughtUp', () => announce({ kind: 'caught-up' }));
    // Never removed: the client can still emit 'error' on a stream it has been told to drop.
    sub.on('error', (err: Error) => settle(translateError(err, 'read $all (filtered)')));
    sub.on('end', () => settle(new StoreUnavailableError('EventStoreDB ended the $all subscription before the page was read')));
  });
}

function recordOf(event: AllRecord['event']): AllRecord {
  return { event, position: positionOf(event.position) };
}
