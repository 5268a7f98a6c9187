/**
 * The log checks of `parley verify`, over events read through the EventStore port in
 * position order (log-scan.ts), so they run on a JetStream stream as on SQLite:
 *
 * - every stream's seqs are dense (1..n): a seq that never comes is missing;
 * - positions grow with seq inside a stream: a seq that comes after a higher one of its
 *   stream is out of order (it is not reported missing, since it is there);
 * - positions grow across the log (the port's promise; a store that broke it is named),
 *   or on a partitioned log within each partition (`position % N`): it has no order
 *   across partitions (log-cursor.ts), while a stream lives in one, so the seq checks hold;
 * - on the embedded store only, global positions have no holes: it gives them densely,
 *   so a hole means an event row was removed. JetStream's positions have gaps by design.
 *
 * Memory: a few numbers per stream, plus the missing ranges of broken streams.
 */
import type { StoredEvent } from '../store/index.js';

/** How many examples of one problem are printed. */
export const EXAMPLES = 5;

interface StreamState {
  top: number;
  topPosition: number;
  /** Seqs skipped so far, as inclusive ranges; a late arrival splits its range. */
  missing: Array<[number, number]>;
}

export class LogCheck {
  events = 0;
  private readonly streams = new Map<string, StreamState>();
  /** Per partition, the highest position seen. */
  private readonly lastPositions: number[];
  /** The first holes, and how many there are. */
  private readonly holes: Array<[number, number]> = [];
  private holeCount = 0;
  private readonly disorder: string[] = [];

  constructor(
    /** Positions must be 1, 2, 3, … (the embedded store). */
    private readonly densePositions: boolean,
    /** How many partitions the log has. */
    partitions = 1,
  ) {
    this.lastPositions = new Array<number>(partitions).fill(0);
  }

  add(page: StoredEvent[]): void {
    for (const e of page) this.one(e);
  }

  private one(e: StoredEvent): void {
    this.events += 1;
    const p = e.position % this.lastPositions.length;
    const last = this.lastPositions[p]!;
    if (e.position <= last) {
      this.note(`the log gives position ${e.position} (${e.stream} seq ${e.seq}) after position ${last}`);
    } else if (this.densePositions && e.position !== last + 1) {
      this.holeCount += 1;
      if (this.holes.length < EXAMPLES) this.holes.push([last + 1, e.position - 1]);
    }
    this.lastPositions[p] = Math.max(last, e.position);
    let s = this.streams.get(e.stream);
    if (!s) this.streams.set(e.stream, (s = { top: 0, topPosition: 0, missing: [] }));
    if (e.seq === s.top + 1) {
      s.top = e.seq;
      s.topPosition = e.position;
    } else if (e.seq > s.top + 1) {
      s.missing.push([s.top + 1, e.seq - 1]);
      s.top = e.seq;
      s.topPosition = e.position;
    } else if (takeMissing(s.missing, e.seq)) {
      this.note(`stream ${e.stream}: seq ${e.seq} has position ${e.position}, after seq ${s.top} at position ${s.topPosition}: positions must grow with seq`);
    } else {
      this.note(`stream ${e.stream}: seq ${e.seq} appears again at position ${e.position}`);
    }
  }

  private note(problem: string): void {
    if (this.disorder.length < EXAMPLES) this.disorder.push(problem);
  }

  get streamCount(): number {
    return this.streams.size;
  }

  /** Every problem found, in the words verify prints. */
  problems(): string[] {
    const out: string[] = [];
    for (const [stream, s] of this.streams) {
      if (s.missing.length === 0) continue;
      const shown = s.missing.slice(0, EXAMPLES).map(range);
      out.push(`stream ${stream}: seqs are not dense, missing ${shown.join(', ')}${s.missing.length > EXAMPLES ? `, … (${s.missing.length} gaps)` : ''}`);
    }
    out.push(...this.disorder);
    if (this.holeCount > 0) {
      const shown = this.holes.map(range);
      out.push(`positions have holes (events removed from the log?): ${shown.join(', ')}${this.holeCount > EXAMPLES ? `, … (${this.holeCount} holes)` : ''}`);
    }
    return out;
  }
}

function range([from, to]: [number, number]): string {
  return from === to ? `${from}` : `${from}..${to}`;
}

/** Removes `seq` from the missing ranges; false if it was not missing. */
function takeMissing(missing: Array<[number, number]>, seq: number): boolean {
  const i = missing.findIndex(([from, to]) => from <= seq && seq <= to);
  if (i < 0) return false;
  const [from, to] = missing[i]!;
  const rest: Array<[number, number]> = [];
  if (from < seq) rest.push([from, seq - 1]);
  if (seq < to) rest.push([seq + 1, to]);
  missing.splice(i, 1, ...rest);
  return true;
}
