/**
 * The log file that `parley export` writes and `parley import` reads: NDJSON, one JSON
 * object per line, each with a `kind`.
 *
 *   1. header       {"kind":"parley-log","version":1,"exportedAt":"<ISO>","head":<position>}
 *   2. events       {"kind":"event","position":1,"stream":"conversation-…","seq":1,"id":"…",
 *                    "type":"ConversationCreated","data":{…},"metadata":{…}}   (position order)
 *   3. idempotency  {"kind":"idempotency","key":"…","fingerprint":"…","result":{…}}
 *   4. trailer      {"kind":"end","events":<count>,"idempotency":<count>}
 *
 * The trailer makes a truncated file detectable. Positions and seqs are kept as they were,
 * so an import into an empty store reproduces the log exactly.
 *
 * A partitioned log (PARLEY_PARTITIONS > 1) is written as version 2, whose header names
 * the partition count and the cursor (log-cursor.ts) the file covers instead of a head:
 *
 *      {"kind":"parley-log","version":2,"exportedAt":"<ISO>","partitions":3,"cursor":"c1.…"}
 *
 * and whose positions grow per partition (`position % partitions`) rather than across the
 * file: such a log has no order across partitions. A parley that reads only version 1
 * refuses it by its version instead of misreading it. An unpartitioned log is version 1,
 * exactly as before.
 */
import { isInvalidCursorError, LogCursor, type IdempotencyRecord, type StoredEvent } from '../store/index.js';

export const LOG_FILE_KIND = 'parley-log';
export const LOG_FILE_VERSION = 1;
/** The version of a file of a partitioned log. */
export const PARTITIONED_LOG_FILE_VERSION = 2;

export type LogHeader =
  | { kind: typeof LOG_FILE_KIND; version: typeof LOG_FILE_VERSION; exportedAt: string; head: number }
  | { kind: typeof LOG_FILE_KIND; version: typeof PARTITIONED_LOG_FILE_VERSION; exportedAt: string; partitions: number; cursor: string };

export interface LogTrailer {
  kind: 'end';
  events: number;
  idempotency: number;
}

export type LogLine =
  | LogHeader
  | ({ kind: 'event' } & StoredEvent)
  | ({ kind: 'idempotency' } & IdempotencyRecord)
  | LogTrailer;

/** A line that is not a valid log line; `line` is 1-based. */
export class LogFileError extends Error {
  override readonly name = 'LogFileError';
  readonly code = 'invalid_log_file';
  constructor(
    readonly line: number,
    reason: string,
  ) {
    super(`line ${line}: ${reason}`);
  }
}

/** The header of a file that holds the log up to `head`. */
export function headerLine(head: LogCursor): string {
  const exportedAt = new Date().toISOString();
  const header: LogHeader =
    head.partitions === 1
      ? { kind: LOG_FILE_KIND, version: LOG_FILE_VERSION, exportedAt, head: head.single }
      : { kind: LOG_FILE_KIND, version: PARTITIONED_LOG_FILE_VERSION, exportedAt, partitions: head.partitions, cursor: head.encode() };
  return JSON.stringify(header);
}

export function eventLine(e: StoredEvent): string {
  return JSON.stringify({ kind: 'event', position: e.position, stream: e.stream, seq: e.seq, id: e.id, type: e.type, data: e.data, metadata: e.metadata });
}

export function idempotencyLine(r: IdempotencyRecord): string {
  return JSON.stringify({ kind: 'idempotency', key: r.key, fingerprint: r.fingerprint, result: r.result });
}

export function trailerLine(events: number, idempotency: number): string {
  return JSON.stringify({ kind: 'end', events, idempotency } satisfies LogTrailer);
}

/**
 * Checks a file line by line: shape of each line, the order of sections, positions
 * strictly increasing (per partition in a version 2 file, and covered by its cursor),
 * seqs dense per stream, unique event ids and keys, and the trailer's counts. Feed it
 * every line in order, then call `end()`.
 */
export class LogFileReader {
  private lineNo = 0;
  private header: LogHeader | null = null;
  private trailer: LogTrailer | null = null;
  /** The cursor a version 2 file says it covers. */
  private covered: LogCursor | null = null;
  /** Per partition, the last position read. */
  private lastPositions: number[] = [0];
  private readonly seqs = new Map<string, number>();
  private readonly ids = new Set<string>();
  private readonly keys = new Set<string>();
  private sawIdempotency = false;
  events = 0;
  idempotency = 0;

  /** Parses and checks one line; returns it, or null for a blank line or the header. */
  read(text: string): LogLine | null {
    this.lineNo += 1;
    const n = this.lineNo;
    if (text.trim() === '') return null;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new LogFileError(n, `not JSON (${(err as Error).message})`);
    }
    if (!isObject(value)) throw new LogFileError(n, 'not a JSON object');
    if (this.trailer) throw new LogFileError(n, 'content after the "end" line');
    if (!this.header) {
      if (value.kind !== LOG_FILE_KIND) throw new LogFileError(n, `the first line must be the header {"kind":"${LOG_FILE_KIND}",…}`);
      this.header = this.readHeader(n, value);
      return null;
    }
    switch (value.kind) {
      case 'event':
        return this.readEvent(n, value);
      case 'idempotency':
        return this.readIdempotency(n, value);
      case 'end':
        if (value.events !== this.events || value.idempotency !== this.idempotency) {
          throw new LogFileError(n, `the "end" line counts ${value.events} events and ${value.idempotency} idempotency records, the file has ${this.events} and ${this.idempotency}`);
        }
        this.trailer = value as unknown as LogTrailer;
        return this.trailer;
      default:
        throw new LogFileError(n, `unknown kind ${JSON.stringify(value.kind)}`);
    }
  }

  /** How many partitions the exported log had (1 for a version 1 file). */
  get partitions(): number {
    return this.lastPositions.length;
  }

  private readHeader(n: number, v: Record<string, unknown>): LogHeader {
    if (v.version === LOG_FILE_VERSION) return v as unknown as LogHeader;
    if (v.version !== PARTITIONED_LOG_FILE_VERSION) {
      throw new LogFileError(n, `unsupported log file version ${JSON.stringify(v.version)} (this parley reads versions ${LOG_FILE_VERSION} and ${PARTITIONED_LOG_FILE_VERSION})`);
    }
    const { partitions, cursor } = v;
    if (typeof partitions !== 'number' || typeof cursor !== 'string') throw new LogFileError(n, 'a version 2 header needs "partitions" and "cursor"');
    try {
      this.covered = LogCursor.decode(cursor, partitions);
    } catch (err) {
      if (isInvalidCursorError(err) || (err as { code?: unknown }).code === 'invalid_partition_count') throw new LogFileError(n, `bad header: ${(err as Error).message}`);
      throw err;
    }
    this.lastPositions = new Array<number>(partitions).fill(0);
    return v as unknown as LogHeader;
  }

  /** Checks that the file was complete. */
  end(): void {
    if (!this.header) throw new LogFileError(Math.max(1, this.lineNo), 'empty file: no header line');
    if (!this.trailer) throw new LogFileError(this.lineNo + 1, 'missing "end" line: the file is truncated');
  }

  private readEvent(n: number, v: Record<string, unknown>): LogLine {
    if (this.sawIdempotency) throw new LogFileError(n, 'event after idempotency records');
    const { position, stream, seq, id, type, data, metadata } = v;
    if (!isPositiveInt(position)) throw new LogFileError(n, 'position must be a positive integer');
    if (typeof stream !== 'string' || stream === '') throw new LogFileError(n, 'stream must be a non-empty string');
    if (!isPositiveInt(seq)) throw new LogFileError(n, 'seq must be a positive integer');
    if (typeof id !== 'string' || id === '') throw new LogFileError(n, 'id must be a non-empty string');
    if (typeof type !== 'string' || type === '') throw new LogFileError(n, 'type must be a non-empty string');
    if (data === undefined) throw new LogFileError(n, 'data is missing');
    if (!isObject(metadata) || typeof metadata.at !== 'number') throw new LogFileError(n, 'metadata must be an object with a numeric "at"');
    const p = position % this.lastPositions.length;
    const last = this.lastPositions[p]!;
    if (position <= last) throw new LogFileError(n, `position ${position} is not after the previous ${last}${this.lastPositions.length > 1 ? ` of partition ${p}` : ''}`);
    if (this.covered && !this.covered.covers(position)) throw new LogFileError(n, `position ${position} is past the cursor the header says the file covers`);
    const expected = (this.seqs.get(stream) ?? 0) + 1;
    if (seq !== expected) throw new LogFileError(n, `seq ${seq} of ${stream} should be ${expected} (seqs are dense per stream)`);
    if (this.ids.has(id)) throw new LogFileError(n, `event id ${id} appears twice`);
    this.lastPositions[p] = position;
    this.seqs.set(stream, seq);
    this.ids.add(id);
    this.events += 1;
    return { kind: 'event', position, stream, seq, id, type, data, metadata: metadata as unknown as StoredEvent['metadata'] };
  }

  private readIdempotency(n: number, v: Record<string, unknown>): LogLine {
    const { key, fingerprint, result } = v;
    if (typeof key !== 'string' || key === '') throw new LogFileError(n, 'key must be a non-empty string');
    if (typeof fingerprint !== 'string') throw new LogFileError(n, 'fingerprint must be a string');
    if (result === undefined) throw new LogFileError(n, 'result is missing');
    if (this.keys.has(key)) throw new LogFileError(n, `idempotency key ${key} appears twice`);
    this.keys.add(key);
    this.sawIdempotency = true;
    this.idempotency += 1;
    return { kind: 'idempotency', key, fingerprint, result };
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isPositiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
}
