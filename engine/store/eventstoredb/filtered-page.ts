/**
 * When a page of `$all`, filtered on the server, is done (filtered-reads.ts reads it; this decides).
 *
 * Client 6's `readAll` takes no filter, so a page is read as a catch-up subscription to
 * `$all` with a stream-name prefix filter, stopped by hand. A subscription never ends by
 * itself: a page ends at the first of
 * - `limit` events taken;
 * - `caughtUp`: the server has sent everything up to the end of `$all` (servers 23.10+);
 * - a checkpoint at or past `end`, the last event of `$all` when the read began: filtered
 *   subscriptions send one every few dozen events they consider, and 21.x–22.x servers
 *   one where they catch up;
 * - an event at or past `end`: the page's filter also takes `end`'s own stream
 *   (`pagePrefixes`), so `end` itself arrives, in order, on every server, 20.x included,
 *   which sends neither of the above.
 * A page takes the wanted events in (from, end]: the (commit, prepare) pair is compared
 * whole (positions.ts), so a page that starts inside another application's transaction
 * (commit > prepare) takes nothing it has seen, and a page never takes half of an append
 * that landed after `end`. Signals are given in `$all` order; after done they are ignored.
 */
import { isAfter, type EsPosition } from './positions.js';

/** What the subscription says, in `$all` order. `wanted`: the event's stream is one the read is for. */
export type PageSignal = { kind: 'event'; position: EsPosition; wanted: boolean } | { kind: 'checkpoint'; position: EsPosition } | { kind: 'caught-up' };

/** The last event of `$all` when a read began. */
export interface EndOfAll {
  position: EsPosition;
  streamId: string;
}

export interface PageBounds {
  /** Exclusive: where the subscription starts (it starts after it; this drops anything at or before it too). */
  from: 'start' | EsPosition;
  end: EsPosition;
  limit: number;
}

export type PageEnd = 'limit' | 'end-event' | 'checkpoint' | 'caught-up';

export interface PageProgress {
  taken: number;
  done: PageEnd | undefined;
}

export const PAGE_START: PageProgress = { taken: 0, done: undefined };

/** Whether `position` comes after `from` in `$all` (the start of `$all` is before everything). */
export function startsAfter(position: EsPosition, from: 'start' | EsPosition): boolean {
  return from === 'start' || isAfter(position, from);
}

/** Whether anything lies in (from, end]: none for an empty `$all` or one that ends at `from`. */
export function needsPage(from: 'start' | EsPosition, end: EndOfAll | undefined): end is EndOfAll {
  return end !== undefined && startsAfter(end.position, from);
}

/**
 * Where a page's subscription starts when its position may not be an event's (a caller's
 * `position - 1`, the end of another application's transaction): a subscription starts
 * after an exact event position (newer servers read one event at the position given and
 * start after it, so any other position would lose the first event after it). So the first
 * event at or after `from` is read (an inclusive read, unfiltered, one event) and the
 * subscription starts after it; `lead`: that event is itself after `from`, so it is the
 * page's first signal. Undefined: nothing at or after `from`.
 */
export function pageStart(from: EsPosition, first: EndOfAll | undefined): { subscribeFrom: EsPosition; lead: boolean } | undefined {
  return first && { subscribeFrom: first.position, lead: startsAfter(first.position, from) };
}

/** The server's filter of a page: the wanted prefixes, and `end`'s stream unless they cover it. */
export function pagePrefixes(wanted: readonly string[], end: EndOfAll): string[] {
  return wanted.some((p) => end.streamId.startsWith(p)) ? [...wanted] : [...wanted, end.streamId];
}

/** The progress after one signal, and whether an event signal's event is taken into the page. */
export function pageStep(bounds: PageBounds, progress: PageProgress, signal: PageSignal): { progress: PageProgress; take: boolean } {
  if (progress.done) return { progress, take: false };
  if (signal.kind === 'caught-up') return { progress: { ...progress, done: 'caught-up' }, take: false };
  const atOrPastEnd = !isAfter(bounds.end, signal.position);
  if (signal.kind === 'checkpoint') return { progress: atOrPastEnd ? { ...progress, done: 'checkpoint' } : progress, take: false };
  const take = signal.wanted && startsAfter(signal.position, bounds.from) && !isAfter(signal.position, bounds.end);
  const taken = progress.taken + (take ? 1 : 0);
  const done = taken >= bounds.limit ? 'limit' : atOrPastEnd ? 'end-event' : undefined;
  return { progress: { taken, done }, take };
}

/**
 * Puts checkpoints and caughtUp back in `$all` order among events. The client turns each
 * server response into an event pushed into its stream, a checkpointReached call or a
 * 'caughtUp' emit, in order, but pushed events may still wait in the stream's buffer when
 * a later signal is announced: that signal is held until those `buffered` events are
 * delivered.
 */
export class SignalOrder {
  private delivered = 0;
  private readonly held: { after: number; signal: PageSignal }[] = [];

  /** A checkpoint or caughtUp, with the events still buffered before it: the signals that apply now. */
  announce(signal: PageSignal, buffered: number): PageSignal[] {
    if (buffered === 0 && this.held.length === 0) return [signal];
    this.held.push({ after: this.delivered + buffered, signal });
    return [];
  }

  /** An event delivered: it, then the signals announced right after it. */
  deliver(event: PageSignal): PageSignal[] {
    this.delivered++;
    const out = [event];
    while (this.held.length > 0 && this.held[0]!.after <= this.delivered) out.push(this.held.shift()!.signal);
    return out;
  }
}

/**
 * Where a scan of many pages goes on from: after the exact pair of the last event a full
 * page took (not its Parley number: see positions.ts), or nowhere once a page reached the end.
 */
export function resumeAfter(end: PageEnd, lastTaken: EsPosition | undefined): EsPosition | undefined {
  return end === 'limit' ? lastTaken : undefined;
}
