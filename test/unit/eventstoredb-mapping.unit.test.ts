/**
 * The EventStoreDB adapter's pure parts: names, numbers, event mapping, error translation,
 * record order. The adapter's behaviour against a server is the contract suite
 * (test/contract/eventstoredb.int.test.ts), which needs EVENTSTORE_URL.
 */
import { randomUUID } from 'node:crypto';
import { AccessDeniedError, MaxAppendSizeExceededError, StreamNotFoundError, UnavailableError, UnknownError, WrongExpectedVersionError } from '@eventstore/db-client';
import { describe, expect, it } from 'vitest';
import { isConcurrencyError, isStoreUnavailableError, type NewEvent } from '../../engine/store/index.js';
import {
  EventStoreDbAccessError,
  EventStoreDbError,
  EventStoreDbUnreachableError,
  InvalidNamespaceError,
  KeyedAppends,
  MalformedEventError,
  PositionOutOfRangeError,
  entryOf,
  esIdOf,
  esStreamOf,
  eventFilterOf,
  isEventStream,
  expectedRevisionOf,
  fromRecorded,
  idempotencyOf,
  idempotencyStreamOf,
  isIdempotencyStream,
  keyedEventId,
  namesFor,
  portStreamOf,
  positionOf,
  redactUrl,
  revisionOfSeq,
  seqOfRevision,
  sortedByUtf8,
  startAfter,
  startupError,
  toEventData,
  translateError,
  versionOfRevision,
  type EsEventData,
} from '../../engine/store/eventstoredb/index.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function ev(data: unknown, id: string = randomUUID()): NewEvent {
  return { id, type: 'MessagePosted', data, metadata: { actor: 'alice', commandId: 'cmd-1', correlationId: 'corr-1', at: 1_700_000_000_000, schemaVersion: 2 } };
}

/** What the client hands back for an event written as `d`: JSON round-tripped, as the server stores it. */
function recorded(d: EsEventData, streamId: string, revision: bigint) {
  return { streamId, id: d.id, revision, type: d.type, isJson: true, data: JSON.parse(JSON.stringify(d.data)), metadata: JSON.parse(JSON.stringify(d.metadata)) };
}

describe('EventStoreDB names', () => {
  it('puts port streams under the namespace and keeps other namespaces and index streams out', () => {
    const names = namesFor();
    expect(esStreamOf(names, 'conversation-42')).toBe('parley-conversation-42');
    expect(portStreamOf(names, 'parley-conversation-42')).toBe('conversation-42');
    expect(portStreamOf(names, 'parley2-conversation-42')).toBeUndefined();
    expect(portStreamOf(names, '$ce-parley')).toBeUndefined();
    expect(portStreamOf(names, 'parley-')).toBeUndefined();
    const idx = idempotencyStreamOf(names, 'alice:cmd-1');
    expect(idx).toMatch(/^parley\.idempotency-[0-9a-f]{64}$/);
    expect(portStreamOf(names, idx)).toBeUndefined();
    expect(isIdempotencyStream(names, idx)).toBe(true);
    expect(isIdempotencyStream(names, names.checkpointStream)).toBe(false);
    expect(portStreamOf(namesFor('parleyt1'), 'parley-conversation-1')).toBeUndefined();
  });

  it('filters $all on the server by the namespace prefix, and in process by the same test', () => {
    const names = namesFor('chat');
    expect(eventFilterOf(names)).toMatchObject({ filterOn: 'streamName', prefixes: ['chat-'] });
    const streams = ['chat-conversation-1', 'chat-user-u', 'chat.idempotency-ab', 'chat.idempotency.checkpoint', 'chatty-x', '$ce-chat', '$$chat-x', 'chat-'];
    expect(streams.filter((s) => isEventStream(names, s))).toEqual(['chat-conversation-1', 'chat-user-u']);
    expect(streams.filter((s) => isEventStream(names, s))).toEqual(streams.filter((s) => s.startsWith(eventFilterOf(names).prefixes[0]!) && s !== 'chat-'));
  });

  it('hashes hostile keys into plain stream names', () => {
    const names = namesFor();
    for (const key of ['constructor', '__proto__', '../../$all', 'a/b c\u0000', '\u{1F600}'.repeat(500)]) {
      expect(idempotencyStreamOf(names, key)).toMatch(/^parley\.idempotency-[0-9a-f]{64}$/);
    }
    expect(idempotencyStreamOf(names, 'a')).not.toBe(idempotencyStreamOf(names, 'b'));
  });

  it('refuses a namespace that could overlap another one', () => {
    for (const bad of ['', 'par-ley', 'Parley', '$all', 'x'.repeat(41)]) expect(() => namesFor(bad)).toThrow(InvalidNamespaceError);
  });
});

describe('EventStoreDB revisions and positions', () => {
  it('maps seq 1.. to revision 0.. and versions to expected revisions', () => {
    expect(seqOfRevision(0n)).toBe(1);
    expect(revisionOfSeq(7)).toBe(6n);
    expect(expectedRevisionOf(0)).toBe('no_stream');
    expect(expectedRevisionOf(3)).toBe(2n);
    expect(expectedRevisionOf('any')).toBe('any');
    expect(() => expectedRevisionOf(-1)).toThrow(RangeError);
    expect(() => expectedRevisionOf(1.5)).toThrow(RangeError);
    expect(() => revisionOfSeq(0)).toThrow(RangeError);
    expect(versionOfRevision('no_stream')).toBe(0);
    expect(versionOfRevision(4n)).toBe(5);
    expect(versionOfRevision(undefined)).toBe(0);
  });

  it('uses the prepare position (unique per event) as the global position, and refuses one past 2^53', () => {
    expect(positionOf({ commit: 1234n, prepare: 1234n })).toBe(1234);
    expect(positionOf({ commit: 1000n, prepare: 1234n })).toBe(1234);
    expect(() => positionOf({ commit: 2n ** 53n, prepare: 2n ** 53n })).toThrow(PositionOutOfRangeError);
    expect(startAfter(0)).toBe('start');
    expect(startAfter(99)).toEqual({ commit: 99n, prepare: 99n });
    expect(() => startAfter(-1)).toThrow(RangeError);
  });
});

describe('EventStoreDB event data', () => {
  it('round-trips an event, its metadata and hostile data', () => {
    const e = ev({ text: "'; DROP TABLE events; -- <script>x</script>", constructor: 'c', nested: [1, { a: null }] });
    const [d] = toEventData([e]);
    expect(d!.id).toBe(e.id);
    expect(d!.contentType).toBe('application/json');
    expect(d!.metadata.$correlationId).toBe('corr-1');
    expect(d!.metadata.$causationId).toBe('cmd-1');
    const back = fromRecorded(recorded(d!, 'parley-conversation-1', 4n), 'conversation-1', 5, 777);
    expect(back).toEqual({ stream: 'conversation-1', seq: 5, position: 777, id: e.id, type: e.type, data: e.data, metadata: e.metadata });
  });

  it('boxes data EventStoreDB cannot hold as JSON, and unboxes it', () => {
    for (const data of [42, 0, true, false, null, undefined]) {
      const [d] = toEventData([ev(data)]);
      expect(d!.data).toEqual({ value: data ?? null });
      expect(fromRecorded(recorded(d!, 'parley-x', 0n), 'x', 1, 1).data).toEqual(data ?? null);
    }
    for (const data of ['plain string', [1, 2], {}]) {
      const [d] = toEventData([ev(data)]);
      expect(d!.data).toEqual(data);
      expect(d!.metadata.parley.boxed).toBeUndefined();
    }
  });

  it('gives events with non-UUID ids a stable UUID and keeps the original id', () => {
    const [d] = toEventData([ev({}, 'evt-1')]);
    expect(d!.id).toMatch(UUID);
    expect(d!.id).toBe(esIdOf('evt-1'));
    expect(esIdOf('evt-2')).not.toBe(d!.id);
    expect(fromRecorded(recorded(d!, 'parley-x', 0n), 'x', 1, 1).id).toBe('evt-1');
  });

  it('derives the ids of a keyed append from the key, and carries the record on the first event only', () => {
    const record = { key: 'alice:cmd-1', fingerprint: 'f', result: { seq: 3 } };
    const a = toEventData([ev({}), ev({})], record);
    const b = toEventData([ev({}), ev({})], record);
    expect(a.map((d) => d.id)).toEqual(b.map((d) => d.id));
    expect(a.map((d) => d.id)).toEqual([keyedEventId(record.key, 0), keyedEventId(record.key, 1)]);
    expect(a[0]!.id).toMatch(UUID);
    expect(keyedEventId('alice:cmd-2', 0)).not.toBe(a[0]!.id);
    expect(idempotencyOf(recorded(a[0]!, 'parley-x', 0n))).toEqual(record);
    expect(idempotencyOf(recorded(a[1]!, 'parley-x', 1n))).toBeUndefined();
  });

  it('reports a foreign event under the prefix as malformed instead of crashing', () => {
    const foreign = { streamId: 'parley-x', id: randomUUID(), revision: 0n, type: 'Other', isJson: true, data: {}, metadata: { someone: 'else' } };
    expect(() => fromRecorded(foreign, 'x', 1, 1)).toThrow(MalformedEventError);
    expect(() => fromRecorded({ ...foreign, isJson: false, metadata: undefined }, 'x', 1, 1)).toThrow(/parley-x@0/);
    expect(idempotencyOf({ metadata: new Uint8Array([1, 2]) })).toBeUndefined();
  });
});

describe('EventStoreDB errors', () => {
  it('turns a wrong expected version into a ConcurrencyError with the actual version', () => {
    const wev = new WrongExpectedVersionError(undefined, { streamName: 'parley-conversation-1', expected: 0n, current: 2n });
    const err = translateError(wev, 'append', 'conversation-1', 1);
    expect(isConcurrencyError(err)).toBe(true);
    expect(err).toMatchObject({ stream: 'conversation-1', expected: 1, actual: 3, cause: wev });
    const none = translateError(new WrongExpectedVersionError(undefined, { streamName: 's', expected: 0n, current: 'no_stream' }), 'append', 's', 1);
    expect(none).toMatchObject({ actual: 0 });
  });

  it('turns an unreachable server into StoreUnavailableError and denied access into a coded error', () => {
    const away = translateError(new UnavailableError(undefined, 'gone'), 'read');
    expect(isStoreUnavailableError(away)).toBe(true);
    const denied = translateError(new AccessDeniedError(), 'read');
    expect(denied).toBeInstanceOf(EventStoreDbAccessError);
    expect((denied as EventStoreDbAccessError).code).toBe('eventstoredb_access_denied');
    expect(denied.message).toMatch(/EVENTSTORE_URL/);
    expect(translateError(MaxAppendSizeExceededError.fromMaxAppendSize(1024), 'append')).toMatchObject({ code: 'append_too_large' });
    const other = translateError(new UnknownError(), 'read');
    expect(other).toBeInstanceOf(EventStoreDbError);
    expect(translateError('a string', 'read')).toBeInstanceOf(EventStoreDbError);
    expect(translateError(new StreamNotFoundError(undefined, 'x'), 'read')).toBeInstanceOf(EventStoreDbError);
  });

  it('names EVENTSTORE_URL in a start-up error and never shows the password', () => {
    const err = startupError('esdb://admin:changeit@db.example:2113?tls=true', new UnavailableError(undefined, 'connect ECONNREFUSED'));
    expect(err).toBeInstanceOf(EventStoreDbUnreachableError);
    expect(err.code).toBe('eventstoredb_unreachable');
    expect(err.message).toMatch(/EVENTSTORE_URL/);
    expect(err.message).not.toMatch(/changeit/);
    expect(redactUrl('esdb+discover://u:p@a:2113,b:2113')).toBe('esdb+discover://u:***@a:2113,b:2113');
    expect(redactUrl('esdb://a:2113?tls=false')).toBe('esdb://a:2113?tls=false');
    expect(startupError('esdb://a:1', new AccessDeniedError()).code).toBe('eventstoredb_access_denied');
    // As the adapter sees it: already translated, with the client's error as the cause.
    expect(startupError('esdb://a:1', translateError(new UnavailableError(undefined, 'x'), 'read')).code).toBe('eventstoredb_unreachable');
    const other = startupError('esdb://a:1', new MalformedEventError('event parley-x@0 is not a Parley event'));
    expect(other.code).toBe('eventstoredb_error');
    expect(other.message).toMatch(/cannot open the log in EventStoreDB at esdb:\/\/a:1: event parley-x@0 .*EVENTSTORE_URL/);
  });
});

describe('EventStoreDB idempotency records', () => {
  it('reads an index entry only for its own key', () => {
    const data = { key: 'k', fingerprint: 'f', result: { seq: 1 }, stream: 'conversation-1', version: 1 };
    expect(entryOf(data, 'k')).toEqual(data);
    expect(entryOf(data, 'other')).toBeUndefined();
    expect(entryOf({ key: 1 })).toBeUndefined();
    expect(entryOf(null)).toBeUndefined();
    expect(entryOf({ key: 'k', fingerprint: 'f' })).toMatchObject({ result: null });
  });

  it('lists records in UTF-8 byte order, as SQLite does', () => {
    const keys = ['b', 'a', '\u{1F600}', '\uFF5E', 'a:2'];
    const sorted = sortedByUtf8(keys.map((key) => ({ key, fingerprint: 'f', result: null }))).map((r) => r.key);
    expect(sorted).toEqual(['a', 'a:2', 'b', '\uFF5E', '\u{1F600}']);
    expect([...keys].sort()).not.toEqual(sorted);
  });
});

describe('EventStoreDB keyed appends in a scan (index repair)', () => {
  const rec = (key: string) => ({ key, fingerprint: `f-${key}`, result: { key } });

  it('completes an entry when the next event is not part of its append, with the version after the whole append', () => {
    const scan = new KeyedAppends();
    expect(scan.take({ stream: 'a', id: keyedEventId('k1', 0), seq: 4, record: rec('k1') })).toBeUndefined();
    expect(scan.open).toBe(true);
    expect(scan.take({ stream: 'a', id: keyedEventId('k1', 1), seq: 5, record: undefined })).toBeUndefined();
    expect(scan.take({ stream: 'a', id: keyedEventId('k1', 2), seq: 6, record: undefined })).toBeUndefined();
    // An unkeyed event of another stream ends it.
    expect(scan.take({ stream: 'b', id: randomUUID(), seq: 1, record: undefined })).toEqual({ ...rec('k1'), stream: 'a', version: 6 });
    expect(scan.open).toBe(false);
    expect(scan.finish()).toBeUndefined();
  });

  it('ends an append at the next keyed one, at a foreign id, and at the end of the scan', () => {
    const scan = new KeyedAppends();
    scan.take({ stream: 'a', id: keyedEventId('k1', 0), seq: 1, record: rec('k1') });
    expect(scan.take({ stream: 'a', id: keyedEventId('k2', 0), seq: 2, record: rec('k2') })).toEqual({ ...rec('k1'), stream: 'a', version: 1 });
    // The right id in the wrong stream is not part of it.
    expect(scan.take({ stream: 'b', id: keyedEventId('k2', 1), seq: 7, record: undefined })).toEqual({ ...rec('k2'), stream: 'a', version: 2 });
    scan.take({ stream: 'c', id: keyedEventId('k3', 0), seq: 9, record: rec('k3') });
    expect(scan.finish()).toEqual({ ...rec('k3'), stream: 'c', version: 9 });
  });
});
