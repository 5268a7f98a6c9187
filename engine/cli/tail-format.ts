/** What `parley tail` prints: each event as the feed's NDJSON line or one readable line, and its summary. */
import type { StoredEvent } from '../store/index.js';
import type { TailFormat } from './tail-args.js';

/** The line to print for an event; `line` is the event as the feed sent it. */
export function formatEvent(format: TailFormat, line: string, e: StoredEvent): string {
  return format === 'text' ? textLine(e) : line;
}

/** One readable line: position, stream, seq, time, type, actor, data. */
export function textLine(e: StoredEvent): string {
  return `#${e.position} ${e.stream} seq ${e.seq} ${new Date(e.metadata.at).toISOString()} ${e.type} by ${e.metadata.actor} ${JSON.stringify(e.data)}`;
}

/** The summary for stderr (stdout carries the events). */
export function summaryLine(printed: number, base: string, last: string | undefined, reconnects: number): string {
  const where = last === undefined ? '' : /^\d+$/.test(last) ? `, last position ${last}` : `, resume with --from ${last}`;
  return `tailed ${printed} events from ${base}${where}${reconnects > 0 ? `, ${reconnects} reconnects` : ''}\n`;
}
