/**
 * The EventStoreDB adapter against edges of the real client (`@eventstore/db-client` 6) and
 * of databases it shares with other applications, as pure functions: `$all` order when
 * commit and prepare positions differ, the client's untyped discovery failure, its
 * connection-string grammar for passwords, and its parse errors. The errors here are the
 * client's own, made without a server (none can run on this machine: see
 * test/contract/eventstoredb.int.test.ts).
 */
import { getEventListeners } from 'node:events';
import { Readable } from 'node:stream';
import { EventStoreDBClient } from '@eventstore/db-client';
import { describe, expect, it, vi } from 'vitest';
import { isStoreUnavailableError } from '../../engine/store/index.js';
import { eventually } from '../helpers/eventually.js';
import {
  EventStoreDbError,
  EventStoreDbUnreachableError,
  checkConnectionOptions,
  clientErrorType,
  connectionOptionsOf,
  connectionStringError,
  endPositionOf,
  giveUpOn,
  isAfter,
  positionOf,
  redactUrl,
  startAfter,
  startsAfter,
  startupError,
  translateError,
} from '../../engine/store/eventstoredb/index.js';

/** What the client throws when it cannot parse or use a connection string. */
function refusal(url: string): unknown {
  try {
    EventStoreDBClient.connectionString(url);
  } catch (err) {
    return err;
  }
  throw new Error(`the client took ${url}`);
}

describe('EventStoreDB $all order with commit ≠ prepare (other applications’ explicit transactions)', () => {
  // $all in commit order: a Parley event, another Parley event, then a foreign explicit
  // transaction whose two events were prepared early (150, 200) and committed at 300, then Parley again.
  const p1 = { commit: 100n, prepare: 100n };
  const p2 = { commit: 250n, prepare: 250n };
  const f1 = { commit: 300n, prepare: 150n };
  const f2 = { commit: 300n, prepare: 200n };
  const p3 = { commit: 400n, prepare: 400n };
  const all = [p1, p2, f1, f2, p3];

  it('orders positions by commit, then prepare, as the server does', () => {
    for (let i = 1; i < all.length; i++) {
      expect(isAfter(all[i]!, all[i - 1]!)).toBe(true);
      expect(isAfter(all[i - 1]!, all[i]!)).toBe(false);
    }
    expect(isAfter(f1, f1)).toBe(false);
    // By prepare alone f1 would come before p2: the order the scan used to page by.
    expect(positionOf(f1)).toBeLessThan(positionOf(p2));
  });

  it('resumes a page that ended inside the transaction at the exact pair, dropping only what it saw', () => {
    // A read starts at its position inclusively: the page after f1 begins with f1 again.
    expect(all.filter((p) => startsAfter(p, f1))).toEqual([f2, p3]);
    // Resuming at f1's Parley number instead ({150, 150}) would take p2 and f1 again.
    expect(all.filter((p) => isAfter(p, startAfter(positionOf(f1)) as typeof f1))).toEqual([p2, f1, f2, p3]);
    expect(all.filter((p) => startsAfter(p, 'start'))).toEqual(all);
  });

  it('ends $all at the last event’s commit position, after everything before it', () => {
    expect(endPositionOf(f2)).toBe(300);
    expect(endPositionOf(p3)).toBe(positionOf(p3));
    const after = startAfter(endPositionOf(f2)) as typeof f2;
    expect(all.filter((p) => isAfter(p, after))).toEqual([p3]);
    // Its prepare position would feed p2 and the transaction again.
    expect(all.filter((p) => isAfter(p, startAfter(positionOf(f2)) as typeof f2))).toEqual([p2, f1, f2, p3]);
  });
});

describe('EventStoreDB errors the client throws untyped', () => {
  it('treats a failed cluster discovery as the database being away, at run time and at start-up', () => {
    // discovery.js throws exactly this, with no `type`, after maxDiscoverAttempts.
    const lost = new Error('Failed to discover after 10 attempts.');
    expect(clientErrorType(lost)).toBe('unavailable');
    const err = translateError(lost, 'append to parley-conversation-1');
    expect(isStoreUnavailableError(err)).toBe(true);
    expect(err.message).toMatch(/Failed to discover after 10 attempts/);
    const atStart = startupError('esdb+discover://admin:pw@cluster.example:2113', err);
    expect(atStart).toBeInstanceOf(EventStoreDbUnreachableError);
    expect(atStart.message).toMatch(/cannot reach EventStoreDB at esdb\+discover:\/\/admin:\*\*\*@cluster\.example:2113.*EVENTSTORE_URL/);
    // Any other untyped error stays a plain coded one.
    expect(clientErrorType(new Error('boom'))).toBeUndefined();
    expect(translateError(new Error('boom'), 'read')).toBeInstanceOf(EventStoreDbError);
  });
});

describe('EventStoreDB errors of the successor client', () => {
  it('reads the actual revision of a wrong expected version under either client’s name for it', () => {
    // @kurrent/kurrentdb-client names it actualState (not installed here: its shape, as its source declares it).
    const kurrent = Object.assign(new Error('wrong expected version'), { type: 'wrong-expected-version', actualState: 4n, expectedState: 2n });
    expect(translateError(kurrent, 'append', 'conversation-1', 3)).toMatchObject({ stream: 'conversation-1', expected: 3, actual: 5 });
    const none = Object.assign(new Error('wrong expected version'), { type: 'wrong-expected-version', actualState: 'no_stream' });
    expect(translateError(none, 'append', 'conversation-1', 3)).toMatchObject({ actual: 0 });
  });
});

describe('EVENTSTORE_URL in messages', () => {
  it('hides whatever the client takes for a password, / : and spaces included', () => {
    expect(redactUrl('esdb://admin:pa/ss@db.example:2113?tls=true')).toBe('esdb://admin:***@db.example:2113?tls=true');
    expect(redactUrl('esdb://admin:a:b@db.example:2113')).toBe('esdb://admin:***@db.example:2113');
    expect(redactUrl('esdb+discover://ops:x%40y@c.example:2113')).toBe('esdb+discover://ops:***@c.example:2113');
    expect(redactUrl(' esdb://admin:pw@h:2113')).toBe(' esdb://admin:***@h:2113');
    expect(redactUrl('esdb://a:2113,b:2113,c:2113?tls=false')).toBe('esdb://a:2113,b:2113,c:2113?tls=false');
  });

  it('says where the client could not parse it, without showing a string whose password it cannot find', () => {
    // `user:password` without its `@`: the client reads the password as a port.
    const typo = refusal('esdb://admin:hunter2');
    expect((typo as Error).message).toContain('hunter2');
    const err = connectionStringError('esdb://admin:hunter2', typo);
    expect(err).toBeInstanceOf(EventStoreDbError);
    expect(err.code).toBe('eventstoredb_error');
    expect(err.message).toMatch(/^EVENTSTORE_URL is not an EventStoreDB connection string: expected port number at position 13 \(the value is not shown/);
    expect(err.message).not.toContain('hunter2');
    expect(connectionStringError('http://x', refusal('http://x')).message).toMatch(/expected esdb:\/\/ or esdb\+discover:\/\/ at position 0/);
  });

  it('names a certificate file it cannot read as such, not as a bad connection string', () => {
    const url = 'esdb://admin:pw@db.example:2113?tlsCAFile=/nonexistent/parley-ca.pem';
    const err = connectionStringError(url, refusal(url));
    expect(err.message).toMatch(/^EVENTSTORE_URL esdb:\/\/admin:\*\*\*@db\.example:2113\?tlsCAFile=\/nonexistent\/parley-ca\.pem cannot be used: Failed to load certificate file/);
  });
});

describe('EVENTSTORE_URL options the client would leak or misapply', () => {
  it('shows why: the client prints the whole string, password included, for an unknown option or tlsVerifyCert=false', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      EventStoreDBClient.connectionString('esdb://admin:s3cret-pw@db.example:2113?tsl=false');
      EventStoreDBClient.connectionString('esdb://admin:s3cret-pw@db.example:2113?tlsVerifyCert=false');
      expect(warn).toHaveBeenCalledTimes(2);
      for (const [message] of warn.mock.calls) expect(String(message)).toContain('s3cret-pw');
    } finally {
      warn.mockRestore();
    }
  });

  it('refuses those before the client sees them, naming the option and never the string', () => {
    const refused = (url: string) => {
      try {
        checkConnectionOptions(url);
      } catch (err) {
        expect(err).toBeInstanceOf(EventStoreDbError);
        expect((err as EventStoreDbError).code).toBe('eventstoredb_error');
        expect((err as Error).message).not.toContain('s3cret-pw');
        return (err as Error).message;
      }
      return undefined;
    };
    expect(refused('esdb://admin:s3cret-pw@db.example:2113?tsl=false')).toMatch(/does not know \("tsl"\)/);
    expect(refused('esdb://admin:s3cret-pw@db.example:2113?tls=true&TLS_Verify-Cert= false')).toMatch(/tlsVerifyCert=false.*tlsCAFile/);
    expect(refused('esdb://admin:s3cret-pw@db.example:2113?throwOnAppendFailure=false')).toMatch(/throwOnAppendFailure=false/);
    // What the client knows and Parley can honour passes, in any spelling the client accepts.
    expect(refused('esdb://admin:s3cret-pw@a:2113,b:2113?tls=true&tlsCAFile=/etc/ca.crt&node_preference=leader&defaultDeadline=5000&keep-alive-interval=10000')).toBeUndefined();
    expect(refused('esdb://db:2113?tlsVerifyCert=true&throwOnAppendFailure=true')).toBeUndefined();
    expect(refused('esdb+discover://cluster.example:2113')).toBeUndefined();
  });

  it('reads options after the credentials as the client does, so a ? or & in a password is no option', () => {
    expect(connectionOptionsOf('esdb://admin:p?x&y=1@db:2113?tls=false')).toEqual([{ key: 'tls', value: 'false' }]);
    expect(connectionOptionsOf('esdb://db:2113')).toEqual([]);
    expect(connectionOptionsOf('esdb://db:2113?Node-Preference=follower&tlsCAFile=%2Fca.pem')).toEqual([
      { key: 'nodepreference', value: 'follower' },
      { key: 'tlscafile', value: '%2Fca.pem' },
    ]);
  });
});

describe('giving up on a read (client 6 sets no deadline on reads)', () => {
  // A node Readable stands for the client's read (a Transform); against a silent server: test/contract/eventstoredb.int.test.ts.
  it('ends the read with store_unavailable when the signal aborts', async () => {
    const abort = new AbortController();
    const read = giveUpOn(new Readable({ objectMode: true, read: () => undefined }), abort.signal);
    const drained = (async () => {
      for await (const _ of read) void _;
    })();
    abort.abort();
    await expect(drained).rejects.toSatisfy(isStoreUnavailableError);
  });

  it('lets go of the signal when the read ends, so a long-lived signal does not collect listeners', async () => {
    const lifetime = new AbortController();
    for (let i = 0; i < 50; i++) {
      const read = giveUpOn(Readable.from([1, 2, 3]), lifetime.signal);
      for await (const _ of read) void _;
    }
    await eventually(() => expect(getEventListeners(lifetime.signal, 'abort')).toHaveLength(0));
  });
});
