/**
 * A Parley event as an EventStoreDB event, and back.
 *
 * - type: the event's type, unchanged (EventStoreDB's tooling and projections see it).
 * - data: JSON (`application/json`), so the admin UI and JavaScript projections read it.
 *   EventStoreDB's JSON data is an object, array or string; other values (numbers,
 *   booleans, null) travel as `{ "value": … }` with `parley.boxed` set in the metadata.
 * - metadata: the port's metadata fields at the top level, plus EventStoreDB's own
 *   `$correlationId` / `$causationId` (so its `$by_correlation_id` projection works), plus
 *   `parley`: the port's event id (EventStoreDB's ids are UUIDs, Parley's need not be), and
 *   on the first event of an append the append's idempotency record.
 * - id (EventStoreDB's): for an append with an idempotency key, a UUID derived from the key
 *   and the event's place in the append, so the same command retried at the same expected
 *   revision is recognised by the server as the same write; otherwise the port's id when
 *   it is a UUID, else a UUID derived from it.
 *
 * Reading back checks the shape: a Parley stream holding something else (written by
 * another tool) is a MalformedEventError naming the stream and revision, never a crash.
 */
import { createHash } from 'node:crypto';
import type { EventMetadata, IdempotencyRecord, NewEvent, StoredEvent } from '../port.js';

export interface EsEventData {
  id: string;
  contentType: 'application/json';
  type: string;
  data: Record<string, unknown> | unknown[] | string;
  metadata: EsMetadata & Record<string, unknown>;
}

export interface EsMetadata extends EventMetadata {
  $correlationId: string;
  $causationId: string;
  parley: { id: string; boxed?: true; idempotency?: IdempotencyRecord };
}

/** What a recorded event from the client looks like, as far as Parley reads it. */
export interface EsRecordedEvent {
  streamId: string;
  id: string;
  revision: bigint;
  type: string;
  isJson: boolean;
  data: unknown;
  metadata: unknown;
}

export class MalformedEventError extends Error {
  override readonly name = 'MalformedEventError';
  readonly code = 'malformed_event';
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A name-based UUID (version 5 layout over SHA-256's first 16 bytes): the same input, the same id. */
export function derivedUuid(...parts: string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(`${p.length}:${p}`);
  const b = h.digest().subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x50;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = b.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** EventStoreDB's id of the `index`th event of an append keyed by `key`. */
export function keyedEventId(key: string, index: number): string {
  return derivedUuid('parley-idempotency', key, String(index));
}

export function esIdOf(portId: string): string {
  return UUID.test(portId) ? portId.toLowerCase() : derivedUuid('parley-event', portId);
}

export function toEventData(events: NewEvent[], idempotency?: IdempotencyRecord): EsEventData[] {
  return events.map((e, i) => {
    const boxed = !isEsJson(e.data);
    const parley: EsMetadata['parley'] = { id: e.id };
    if (boxed) parley.boxed = true;
    if (i === 0 && idempotency) parley.idempotency = { key: idempotency.key, fingerprint: idempotency.fingerprint, result: idempotency.result };
    return {
      id: idempotency ? keyedEventId(idempotency.key, i) : esIdOf(e.id),
      contentType: 'application/json',
      type: e.type,
      data: boxed ? { value: e.data === undefined ? null : e.data } : (e.data as EsEventData['data']),
      metadata: {
        ...e.metadata,
        $correlationId: e.metadata.correlationId,
        $causationId: e.metadata.commandId,
        parley,
      },
    };
  });
}

/** The port's event, given its port stream and global position. */
export function fromRecorded(recorded: EsRecordedEvent, stream: string, seq: number, position: number): StoredEvent {
  const where = `${recorded.streamId}@${recorded.revision}`;
  const meta = recorded.metadata as Partial<EsMetadata> | null | undefined;
  if (!recorded.isJson || !meta || typeof meta !== 'object' || !meta.parley || typeof meta.parley.id !== 'string') {
    throw new MalformedEventError(`event ${where} is not a Parley event (no JSON data or no parley metadata)`);
  }
  const data = meta.parley.boxed ? (recorded.data as { value?: unknown } | null)?.value : recorded.data;
  return {
    stream,
    seq,
    position,
    id: meta.parley.id,
    type: recorded.type,
    data,
    metadata: {
      actor: String(meta.actor ?? ''),
      commandId: String(meta.commandId ?? ''),
      correlationId: String(meta.correlationId ?? meta.commandId ?? ''),
      at: Number(meta.at ?? 0),
      schemaVersion: Number(meta.schemaVersion ?? 1),
    },
  };
}

/** The idempotency record an event carries (the first event of a keyed append), if any. */
export function idempotencyOf(recorded: Pick<EsRecordedEvent, 'metadata'>): IdempotencyRecord | undefined {
  const r = (recorded.metadata as Partial<EsMetadata> | null | undefined)?.parley?.idempotency;
  return r && typeof r.key === 'string' && typeof r.fingerprint === 'string' ? { key: r.key, fingerprint: r.fingerprint, result: r.result ?? null } : undefined;
}

function isEsJson(data: unknown): boolean {
  return typeof data === 'string' || Array.isArray(data) || (typeof data === 'object' && data !== null);
}
