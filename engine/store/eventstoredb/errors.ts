/**
 * EventStoreDB client errors as the port's errors.
 *
 * The client throws classes tagged with a `type` (its ErrorType strings); matching on the
 * tag rather than `instanceof` keeps this a pure function of the error and immune to two
 * copies of the client in one tree.
 *
 * - wrong-expected-version → ConcurrencyError with the stream's actual version.
 * - unavailable, deadline-exceeded, timeout, not-leader, cancelled (a channel shut under
 *   a call) → StoreUnavailableError: the database is away for now, a command may retry.
 * - access-denied → EventStoreDbAccessError: credentials in EVENTSTORE_URL lack a right,
 *   retrying will not help.
 * - maximum-append-size-exceeded → AppendTooLargeError (as the JetStream adapter's).
 * - anything else → EventStoreDbError carrying the client's error as `cause`.
 */
import { ConcurrencyError, StoreUnavailableError } from '../errors.js';
import type { ExpectedVersion } from '../port.js';
import { versionOfRevision, type EsCurrentRevision } from './positions.js';

export class EventStoreDbError extends Error {
  override readonly name: string = 'EventStoreDbError';
  readonly code: string = 'eventstoredb_error';
}

export class EventStoreDbAccessError extends EventStoreDbError {
  override readonly name = 'EventStoreDbAccessError';
  override readonly code = 'eventstoredb_access_denied';
}

/** One append larger than the server takes (its MaxAppendSize, 1 MiB by default). */
export class AppendTooLargeError extends EventStoreDbError {
  override readonly name = 'AppendTooLargeError';
  override readonly code = 'append_too_large';
}

/** The database could not be reached at start-up: names EVENTSTORE_URL and the address. */
export class EventStoreDbUnreachableError extends EventStoreDbError {
  override readonly name = 'EventStoreDbUnreachableError';
  override readonly code = 'eventstoredb_unreachable';
}

const UNAVAILABLE = new Set(['unavailable', 'deadline-exceeded', 'timeout', 'not-leader', 'cancelled']);

export function clientErrorType(err: unknown): string | undefined {
  const type = (err as { type?: unknown } | null | undefined)?.type;
  return typeof type === 'string' ? type : undefined;
}

export function isWrongExpectedVersion(err: unknown): boolean {
  return clientErrorType(err) === 'wrong-expected-version';
}

/** The port's error for a client error raised while working on `stream` (appending at `expected`). */
export function translateError(err: unknown, what: string, stream?: string, expected: ExpectedVersion = 'any'): Error {
  const type = clientErrorType(err);
  const message = err instanceof Error ? err.message : String(err);
  if (type === 'wrong-expected-version' && stream !== undefined) {
    const actual = versionOfRevision((err as { actualVersion?: EsCurrentRevision }).actualVersion);
    return new ConcurrencyError(stream, expected, actual, { cause: err });
  }
  if (type !== undefined && UNAVAILABLE.has(type)) return new StoreUnavailableError(`EventStoreDB ${what}: ${message}`, { cause: err });
  if (type === 'access-denied') {
    return new EventStoreDbAccessError(`EventStoreDB ${what}: access denied (${message}); check the credentials in EVENTSTORE_URL`, { cause: err });
  }
  if (type === 'maximum-append-size-exceeded') return new AppendTooLargeError(`EventStoreDB ${what}: ${message}`, { cause: err });
  if (err instanceof ConcurrencyError || err instanceof StoreUnavailableError || err instanceof EventStoreDbError) return err;
  return new EventStoreDbError(`EventStoreDB ${what}: ${message}`, { cause: err });
}

/** Whether a read failed only because the stream does not exist (an empty stream to Parley). */
export function isStreamNotFound(err: unknown): boolean {
  return clientErrorType(err) === 'stream-not-found';
}

/** A start-up failure as one line: what failed, where, and which setting to check. */
export function startupError(url: string, err: unknown): EventStoreDbError {
  const at = redactUrl(url);
  const cause = err instanceof StoreUnavailableError || err instanceof EventStoreDbError ? (err.cause ?? err) : err;
  const type = err instanceof StoreUnavailableError && cause === err ? 'unavailable' : clientErrorType(cause);
  const message = cause instanceof Error ? cause.message : String(cause);
  if (type === 'access-denied') {
    return new EventStoreDbAccessError(`EventStoreDB at ${at} refused the credentials: ${message}; check the user and password in EVENTSTORE_URL (reading $all needs an admin or ops user)`, {
      cause: err,
    });
  }
  if (type !== undefined && UNAVAILABLE.has(type)) {
    return new EventStoreDbUnreachableError(
      `cannot reach EventStoreDB at ${at}: ${message}; is the server running there, and does EVENTSTORE_URL name it (esdb://host:2113?tls=false for an insecure node)?`,
      { cause: err },
    );
  }
  return new EventStoreDbError(`cannot open the log in EventStoreDB at ${at}: ${message}; check EVENTSTORE_URL and PARLEY_EVENTSTORE_NAMESPACE`, { cause: err });
}

/** The connection string without its password, for messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z+]+:\/\/[^:@/]+):[^@/]*@/i, '$1:***@');
}
