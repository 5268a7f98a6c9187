/**
 * Catch-up reads of `$all` filtered on the server: a page is a catch-up subscription with a
 * stream-name prefix filter (client 6's `readAll` takes no filter), ended by hand as
 * filtered-page.ts decides, so a read over a busy shared `$all` is not sent every other
 * application's events.
 *
 * A subscription starts after an exact event position, so a page after a position that
 * may be no event's first reads the event at or after it (pageStart, filtered-page.ts).
 * Checkpoints and caughtUp are put back among the events in `$all` order (SignalOrder,
 * with the stream's `readableLength`) before the decision sees them. Like every read here, a page takes an AbortSignal that
 * gives up on it (log-reads.ts' giveUpOn): a silent server must not hold it for ever.
 */
import { streamNameFilter, type AllStreamResolvedEvent, type AllStreamSubscription, type EventStoreDBClient } from '@eventstore/db-client';
import { StoreUnavailableError } from '../errors.js';
import type { StoredEvent } from '../port.js';
import { fromRecorded } from './event-data.js';
import { translateError } from './errors.js';
import { PAGE_START, SignalOrder, needsPage, pagePrefixes, pageStart, pageStep, resumeAfter, type EndOfAll, type PageBounds, type PageEnd, type PageSignal } from './filtered-page.js';
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

/** The first event of `$all` at or after `from` (an inclusive read, unfiltered, one event). */
async function firstEventFrom(client: EventStoreDBClient, from: EsPosition, signal?: AbortSignal): Promise<AllRecord['event'] | undefined> {
  try {
    const first = giveUpOn(client.readAll({ fromPosition: from, direction: 'forwards', maxCount: 1 }), signal);
    for await (const resolved of first as AsyncIterable<AllStreamResolvedEvent>) {
      if (resolved.event) return resolved.event as AllRecord['event'];
    }
  } catch (err) {
    throw translateError(err, 'read $all');
  }
  return undefined;
}

/** Up to `limit` wanted events after `after` and up to the end of `$all` now, filtered on the server. */
export async function readFiltered(client: EventStoreDBClient, read: FilteredRead, after: number, limit: number, signal?: AbortSignal): Promise<AllRecord[]> {
  if (limit <= 0) return [];
  const first = await firstPage(client, read, after, limit, signal);
  return first ? first.page.events.map(recordOf) : [];
}

/** Every wanted event after `after`, to the end of `$all` as it was when the scan began, page by page. */
export async function* scanFiltered(client: EventStoreDBClient, read: FilteredRead, after: number, signal?: AbortSignal): AsyncGenerator<AllRecord> {
  const first = await firstPage(client, read, after, SCAN_PAGE, signal);
  if (!first) return;
  let page = first.page;
  for (;;) {
    for (const event of page.events) yield recordOf(event);
    // Later pages start after an event the last one took: an exact position.
    const from = resumeAfter(page.end, page.events.at(-1)?.position);
    if (!from || !needsPage(from, first.end)) return;
    page = await readFilteredPage(client, read, { from, end: first.end.position, limit: SCAN_PAGE }, first.prefixes, { subscribeFrom: from }, signal);
  }
}

/** The page after `after` (undefined when nothing lies between it and the end of `$all`), with the end it read to. */
async function firstPage(client: EventStoreDBClient, read: FilteredRead, after: number, limit: number, signal?: AbortSignal) {
  const from = startAfter(after);
  const end = await endOfAll(client, signal);
  if (!needsPage(from, end)) return undefined;
  let start: PageStartAt = { subscribeFrom: 'start' };
  if (from !== 'start') {
    const first = await firstEventFrom(client, from, signal);
    const at = pageStart(from, first && { position: first.position, streamId: first.streamId });
    if (!at) return undefined;
    start = { subscribeFrom: at.subscribeFrom, lead: at.lead ? first : undefined };
  }
  const prefixes = pagePrefixes(read.prefixes, end);
  const page = await readFilteredPage(client, read, { from, end: end.position, limit }, prefixes, start, signal);
  return { page, end, prefixes };
}

/** Where a page's subscription starts, and the event read before it that leads the page, if any. */
export interface PageStartAt {
  subscribeFrom: 'start' | EsPosition;
  lead?: AllRecord['event'];
}

/**
 * One page: its lead event, if any, then a filtered catch-up subscription from
 * `start.subscribeFrom`, unsubscribed (and its stream destroyed) as soon as the page is
 * done, fails, or `signal` gives up on it.
 */
export function readFilteredPage(
  client: EventStoreDBClient,
  read: FilteredRead,
  bounds: PageBounds,
  prefixes: string[],
  start: PageStartAt,
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

    const lead = start.lead;
    if (lead) apply([{ kind: 'event', position: lead.position, wanted: read.wanted(lead.streamId) }], lead);
    if (settled) return;
    try {
      const filter = streamNameFilter({
        prefixes,
        checkpointInterval: CHECKPOINT_INTERVAL,
        checkpointReached: (_sub, position) => announce({ kind: 'checkpoint', position }),
      });
      sub = giveUpOn(client.subscribeToAll({ fromPosition: start.subscribeFrom, filter }), signal);
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
