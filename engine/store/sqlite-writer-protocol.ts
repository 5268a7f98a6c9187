/**
 * What the main thread and the writer thread (sqlite-writer.js, whose header is the wire
 * format) say to each other, from the main thread's side: a batch of appends encoded as
 * one JSON text, and what each answer means for the append it answers.
 *
 * A full or failing disk (SQLITE_FULL, SQLITE_IOERR_…, ENOSPC) is StoreUnavailableError:
 * the node answers `unavailable`, nothing of the batch is acked, reads go on, and the next
 * batch simply tries again, so writes come back by themselves when the disk has room.
 * Anything else the writer reports is a bug (`internal`).
 */
import type { AppendOptions, AppendResult, NewEvent } from './port.js';
import { ConcurrencyError, StoreUnavailableError } from './errors.js';

/** An append waiting for the writer's answer. */
export interface PendingAppend {
  stream: string;
  events: NewEvent[];
  options: AppendOptions;
  resolve: (r: AppendResult) => void;
  reject: (e: unknown) => void;
}

/** A failure the writer reports (code: SQLITE_FULL, SQLITE_IOERR_…, ENOSPC…, or none). */
export interface WriteError {
  error: string;
  code?: string;
}
/** What became of one append: committed, a duplicate of a recorded key, a conflict, or failed. */
export type WriterOutcome =
  | { version: number; firstSeq: number; firstPosition: number }
  | { duplicate: { key: string; fingerprint: string; result: string }; version: number }
  | { conflict: number }
  | WriteError;
/** The writer's answer for one batch: an outcome per append, or the error that rolled it back. */
export type BatchResult = { n: number } & ({ outcomes: WriterOutcome[] } | WriteError);
/** The writer's answer for the batches of one transaction. */
export interface TransactionResults {
  results: BatchResult[];
  /** Milliseconds the writer spent in the transaction, its fsync included. */
  ms: number;
}

/** Errors of the disk or the file system, not of Parley: writes wait for them to pass. */
const DISK_FAILURE = /^(SQLITE_(FULL|IOERR|BUSY|LOCKED|NOMEM|CANTOPEN|READONLY)|ENOSPC|EIO|EDQUOT|EROFS|EMFILE|ENFILE)/;

/** StoreUnavailableError for a failing disk, a plain Error (a bug, `internal`) otherwise. */
export function writeFailure(message: string, code: string | undefined, file: string): Error {
  if (code && DISK_FAILURE.test(code)) {
    return new StoreUnavailableError(`cannot write the event store ${file}: ${message} (${code})`);
  }
  return new Error(`append failed: ${message}${code ? ` (${code})` : ''}`);
}

/**
 * Batch `n` as the writer takes it: a header (JSON text) followed by the stored JSON text of
 * each event's data and metadata and of each idempotency result, in the order the header
 * lists them. Each value is serialized once, here, and stored as it comes: the writer
 * neither parses nor re-serializes them (it used to, ~3 µs per append on its thread), and
 * a list of strings crosses to the writer as one copy of each. `seen` is the last batch
 * whose answer this thread handled. Throws when an append cannot be held by JSON (see
 * withoutUnencodable).
 */
export function encodeBatch(n: number, seen: number, appends: PendingAppend[]): BatchMessage {
  const message: BatchMessage = [''];
  const header: WriterAppend[] = [];
  for (const req of appends) header.push(toWriter(req, message));
  message[0] = JSON.stringify({ n, seen, appends: header });
  return message;
}

/** A batch as it crosses to the writer: its header, then the texts the header's appends refer to, in order. */
export type BatchMessage = string[];

/** The appends JSON can hold; the others (a bug upstream: a BigInt, a cycle) are rejected. */
export function withoutUnencodable(appends: PendingAppend[]): PendingAppend[] {
  return appends.filter((req) => {
    try {
      JSON.stringify(toWriter(req, []));
      return true;
    } catch (err) {
      req.reject(new Error(`append to ${req.stream}: its events cannot be stored as JSON`, { cause: err }));
      return false;
    }
  });
}

/**
 * An append as the writer's header lists it (see sqlite-writer.js); its events' data and
 * metadata, and its idempotency result, are pushed to `texts` as the stored JSON text.
 */
function toWriter(req: PendingAppend, texts: string[]): WriterAppend {
  const { idempotency, patches, legacyKey } = req.options;
  const events: WriterEvent[] = [];
  for (const e of req.events) {
    events.push({ id: e.id, type: e.type });
    texts.push(storedJson(e.data), storedJson(e.metadata));
  }
  // Optional parts assigned, not spread in (~0.1 µs less per append on the main thread).
  const out: WriterAppend = { stream: req.stream, expected: req.options.expectedVersion, events };
  if (patches && patches.length > 0) out.patches = patches;
  if (idempotency) {
    out.key = idempotency.key;
    out.legacyKey = legacyKey;
    out.fingerprint = idempotency.fingerprint;
    texts.push(storedJson(idempotency.result));
  }
  return out;
}

/** A value's JSON text as stored; one JSON cannot hold (undefined, a function) is an encoding failure too. */
function storedJson(value: unknown): string {
  const text = JSON.stringify(value) as string | undefined;
  if (text === undefined) throw new TypeError(`${typeof value} cannot be stored as JSON`);
  return text;
}

interface WriterEvent {
  id: string;
  type: string;
}

interface WriterAppend {
  stream: string;
  expected: AppendOptions['expectedVersion'];
  events: WriterEvent[];
  patches?: AppendOptions['patches'];
  key?: string;
  legacyKey?: string;
  fingerprint?: string;
}

/** What the appends of a committed batch come to, and the streams whose dependent appends failed. */
export interface BatchOutcome {
  results: Array<AppendResult | Error>;
  /** Streams with a failed dependent append, and the write failure behind it if it was one. */
  broken: Map<string, Error | undefined>;
}

/** Reads the writer's outcome for each append of a committed batch. */
export function outcomesOf(appends: PendingAppend[], outcomes: WriterOutcome[], file: string): BatchOutcome {
  const results: Array<AppendResult | Error> = [];
  const broken = new Map<string, Error | undefined>();
  appends.forEach((req, i) => {
    const o = outcomes[i]!;
    const dependent = req.options.expectedVersion !== 'any';
    if ('conflict' in o) {
      if (dependent) broken.set(req.stream, undefined);
      results.push(new ConcurrencyError(req.stream, req.options.expectedVersion, o.conflict));
    } else if ('error' in o) {
      // Sent behind a batch that rolled back, on the same stream: decided on top of it.
      const err = writeFailure(o.error, o.code, file);
      if (dependent) broken.set(req.stream, err);
      results.push(err);
    } else if ('duplicate' in o) {
      if (dependent && req.events.length > 0) broken.set(req.stream, undefined);
      const duplicate = { key: o.duplicate.key, fingerprint: o.duplicate.fingerprint, result: JSON.parse(o.duplicate.result) };
      results.push({ stream: req.stream, version: o.version, events: [], duplicate });
    } else {
      const stored = req.events.map((e, j) => ({
        stream: req.stream,
        seq: o.firstSeq + j,
        position: o.firstPosition + j,
        id: e.id,
        type: e.type,
        data: e.data,
        metadata: e.metadata,
      }));
      results.push({ stream: req.stream, version: o.version, events: stored, duplicate: null });
    }
  });
  return { results, broken };
}
