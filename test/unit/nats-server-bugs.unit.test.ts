/**
 * Which nats-server versions the JetStream store refuses for a replicated log: 2.9.0 up to
 * 2.9.20 have nats-server#4320 (fixed in 2.9.21 and 2.10.0); single-replica streams are
 * not affected.
 */
import { describe, expect, it } from 'vitest';
import { parseServerVersion, serverBugsFor, UnsafeServerVersionError } from '../../engine/store/jetstream/index.js';
import { assertServerSafeFor } from '../../engine/store/jetstream/server-bugs.js';

describe('nats-server versions with the expected-last-subject-sequence race (nats-server#4320)', () => {
  it.each(['2.9.0', '2.9.10', 'v2.9.10', '2.9.15', '2.9.20', '2.10.0-RC.1', '2.10.0-beta.5'])('refuses %s for R3', (v) => {
    expect(serverBugsFor(v, 3).map((b) => b.issue)).toEqual(['nats-server#4320']);
    expect(serverBugsFor(v, 2).length).toBe(1);
  });

  it.each(['2.9.21', '2.9.25', '2.10.0', '2.10.27', 'v2.11.4', '2.12.1', '3.0.0', '2.8.4'])('accepts %s for R3', (v) => {
    expect(serverBugsFor(v, 3)).toEqual([]);
  });

  it('accepts a broken version for a single-replica stream (the race needs replication)', () => {
    expect(serverBugsFor('2.9.10', 1)).toEqual([]);
    expect(() => assertServerSafeFor('2.9.10', 1)).not.toThrow();
  });

  it('names the version, the bug and the fix in the refusal', () => {
    let caught: unknown;
    try {
      assertServerSafeFor('2.9.10', 3);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UnsafeServerVersionError);
    const message = (caught as Error).message;
    expect(message).toContain('2.9.10');
    expect(message).toContain('nats-server#4320');
    expect(message).toContain('≥ 2.9.21');
    expect(message).toContain('2.10.0');
  });

  it('parses versions with and without a v and a pre-release tag', () => {
    expect(parseServerVersion('v2.10.27')).toEqual({ major: 2, minor: 10, patch: 27, prerelease: false });
    expect(parseServerVersion('2.10.0-RC.3')).toEqual({ major: 2, minor: 10, patch: 0, prerelease: true });
    expect(parseServerVersion('nonsense')).toBeUndefined();
  });
});
