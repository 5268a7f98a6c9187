/**
 * Progress and summaries for long CLI work. The bar goes to stderr and only when stderr is
 * a terminal, so piped output and test logs stay clean; summaries are plain lines.
 */
import { LogCursor, type StoredEvent } from '../store/index.js';

export interface Progress {
  /** Sets how much is done (same unit as `total`). */
  update(done: number): void;
  /** Clears the bar. */
  finish(): void;
}

const WIDTH = 28;
const REDRAW_MS = 100;

export function progressBar(label: string, total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY || total <= 0) return { update() {}, finish() {} };
  let last = 0;
  let drawn = false;
  const draw = (done: number) => {
    const ratio = Math.min(1, done / total);
    const filled = Math.round(ratio * WIDTH);
    stream.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${(ratio * 100).toFixed(0).padStart(3)}% ${done}/${total}`);
    drawn = true;
  };
  return {
    update(done) {
      const now = Date.now();
      if (now - last < REDRAW_MS && done < total) return;
      last = now;
      draw(done);
    },
    finish() {
      if (drawn) stream.write('\r\x1b[K');
    },
  };
}

/**
 * A bar for a scan up to `head`: done is how far the scan's cursor has come, summed over
 * partitions (with one partition exactly the position reached, as the bar always showed).
 */
export interface CursorProgress {
  /** The scan read these events. */
  advance(events: readonly Pick<StoredEvent, 'position'>[]): void;
  /** The scan has come to `cursor`. */
  reach(cursor: LogCursor): void;
  finish(): void;
}

export function cursorProgress(label: string, head: LogCursor): CursorProgress {
  const total = LogCursor.start(head.partitions).behind(head);
  const bar = progressBar(label, total);
  let reached = LogCursor.start(head.partitions);
  const reach = (cursor: LogCursor) => {
    reached = cursor;
    bar.update(total - reached.behind(head));
  };
  return {
    advance: (events) => reach(reached.advancedBy(events)),
    reach,
    finish: () => bar.finish(),
  };
}

/**
 * How many positions of its partitions' own a cursor covers (`local` of `local * N + p`):
 * with one partition its position; on JetStream about the messages under it (a size, as `head` always was).
 */
export function positionsCovered(cursor: LogCursor): number {
  return cursor.entries.reduce((sum, entry) => sum + Math.floor(entry / cursor.partitions), 0);
}

/** Seconds since `started` (a performance.now() value), for summaries. */
export function elapsed(started: number): string {
  return `${((performance.now() - started) / 1000).toFixed(2)} s`;
}

/** 1536 → "1.5 KiB". */
export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u += 1;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** Writes to a stream and waits for it to drain when its buffer is full (large exports). */
export function writeLine(out: NodeJS.WritableStream, line: string): Promise<void> | undefined {
  if (out.write(`${line}\n`)) return undefined;
  return new Promise((resolve) => out.once('drain', () => resolve()));
}
