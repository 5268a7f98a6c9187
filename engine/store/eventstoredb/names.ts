/**
 * Where Parley's data lives in an EventStoreDB / KurrentDB database, and how `$all` is
 * filtered down to it.
 *
 * A namespace (default `parley`) keeps one Parley log apart from everything else in the
 * database — the teams this adapter is for already keep other applications' streams there —
 * and apart from another Parley log (tests, staging):
 *
 * - `<ns>-<stream>` holds a port stream: `parley-conversation-<id>`, `parley-user-<id>`.
 *   EventStoreDB's `$ce-parley` category projection therefore sees every Parley event.
 * - `<ns>.idempotency-<sha256 of the key>` holds one idempotency record (index.ts of
 *   idempotency-index.ts explains why), `<ns>.idempotency.checkpoint` its repair checkpoint.
 *
 * The namespace has no `-`, so the prefix `parley-` can never match another namespace's
 * streams (`parley2-…`, `parleyt1-…`) and the `.`-streams never match `<ns>-`.
 */
import { createHash } from 'node:crypto';
import { streamNameFilter, type PrefixesFilter } from '@eventstore/db-client';

export const DEFAULT_NAMESPACE = 'parley';

export class InvalidNamespaceError extends Error {
  override readonly name = 'InvalidNamespaceError';
  readonly code = 'invalid_eventstoredb_namespace';
}

export interface Names {
  readonly namespace: string;
  /** Prefix of every event stream of this log: the `$all` filter of the feed and reads. */
  readonly eventPrefix: string;
  /** Prefix of every idempotency record stream. */
  readonly idempotencyPrefix: string;
  readonly checkpointStream: string;
}

export function namesFor(namespace: string = DEFAULT_NAMESPACE): Names {
  if (!/^[a-z0-9_]{1,40}$/.test(namespace)) {
    throw new InvalidNamespaceError(`the EventStoreDB namespace must be 1–40 of a–z, 0–9 and "_", got "${namespace}"`);
  }
  return {
    namespace,
    eventPrefix: `${namespace}-`,
    idempotencyPrefix: `${namespace}.idempotency-`,
    checkpointStream: `${namespace}.idempotency.checkpoint`,
  };
}

/** The EventStoreDB stream of a port stream. */
export function esStreamOf(names: Names, stream: string): string {
  return names.eventPrefix + stream;
}

/** The port stream of an EventStoreDB stream, or undefined when it is not one of this log's. */
export function portStreamOf(names: Names, esStream: string): string | undefined {
  return esStream.startsWith(names.eventPrefix) && esStream.length > names.eventPrefix.length ? esStream.slice(names.eventPrefix.length) : undefined;
}

/** The stream holding one key's record: keys are arbitrary strings, stream names should not be. */
export function idempotencyStreamOf(names: Names, key: string): string {
  return names.idempotencyPrefix + createHash('sha256').update(key).digest('hex');
}

export function isIdempotencyStream(names: Names, esStream: string): boolean {
  return esStream.startsWith(names.idempotencyPrefix);
}

/**
 * The server-side `$all` filter of this log's events: a stream-name prefix, which the
 * server matches without a regex, and which no index, checkpoint or system stream
 * (`$…`) and no other namespace can match.
 */
export function eventFilterOf(names: Names): PrefixesFilter {
  return streamNameFilter({ prefixes: [names.eventPrefix] });
}

/** The same test as the filter, for reads filtered in process (log-reads.ts). */
export function isEventStream(names: Names, esStream: string): boolean {
  return portStreamOf(names, esStream) !== undefined;
}
