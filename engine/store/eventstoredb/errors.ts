/**
 * EventStoreDB client errors as the port's errors.
 *
 * The client throws classes tagged with a `type` (its ErrorType strings); matching on the
 * tag rather than `instanceof` keeps this a pure function of the error and immune to two
 * copies of the client in one tree.
 *
 * - wrong-expected-version → ConcurrencyError with the stream's actual version.
 * - unavailable, deadline-exceeded, timeout, not-leader, cancelled (a channel shut under
 *   a call), and a failed cluster discovery (`esdb+discover://` or several gossip seeds:
 *   the client throws a plain Error "Failed to discover after N attempts.", with no type)
 *   → StoreUnavailableError: the database is away for now, a command may retry.
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
const DISCOVERY_FAILED = /^Failed to discover after \d+ attempts/;

/** The client's error type tag; a failed cluster discovery, which has none, counts as `unavailable`. */
export function clientErrorType(err: unknown): string | undefined {
  const type = (err as { type?: unknown } | null | undefined)?.type;
  if (typeof type === 'string') return type;
  return err instanceof Error && DISCOVERY_FAILED.test(err.message) ? 'unavailable' : undefined;
}

export function isWrongExpectedVersion(err: unknown): boolean {
  return clientErrorType(err) === 'wrong-expected-version';
}

/** The port's error for a client error raised while working on `stream` (appending at `expected`). */
export function translateError(err: unknown, what: string, stream?: string, expected: ExpectedVersion = 'any'): Error {
  const type = clientErrorType(err);
  const message = err instanceof Error ? err.message : String(err);
  if (type === 'wrong-expected-version' && stream !== undefined) {
    // `actualVersion` in @eventstore/db-client, `actualState` in its successor @kurrent/kurrentdb-client.
    const wev = err as { actualVersion?: EsCurrentRevision; actualState?: EsCurrentRevision };
    const actual = versionOfRevision(wev.actualVersion ?? wev.actualState);
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

/**
 * EVENTSTORE_URL refused by the client before any connection. A string the client cannot
 * parse is not shown, nor the text the client found where it failed: where the parse
 * failed nobody knows which part is a password (a `user:password` missing its `@` reads
 * as `host:port`), so the message says only where and what was expected. A string that
 * parsed but cannot be used (a tlsCAFile or userCertFile that cannot be read) is shown
 * redacted, with the client's reason.
 */
export function connectionStringError(url: string, err: unknown): EventStoreDbError {
  const parse = err as { expected?: unknown; location?: unknown } | null | undefined;
  if (typeof parse?.expected === 'string' && Array.isArray(parse.location) && typeof parse.location[0] === 'number') {
    return new EventStoreDbError(
      `EVENTSTORE_URL is not an EventStoreDB connection string: expected ${parse.expected} at position ${parse.location[0]} (the value is not shown: it may hold a password)`,
      { cause: err },
    );
  }
  const message = err instanceof Error ? err.message : String(err);
  return new EventStoreDbError(`EVENTSTORE_URL ${redactUrl(url)} cannot be used: ${message}`, { cause: err });
}

/**
 * The connection string without its password, for messages and logs. The pattern is the
 * client's own (`user:password@` right after the scheme, the password anything up to the
 * first `@`), so whatever the client takes for a password is hidden, `/` and `:` included.
 */
export function redactUrl(url: string): string {
  return url.replace(/^(\s*[^:]+:\/\/[^:]+):[^@]+@/, '$1:***@');
}
