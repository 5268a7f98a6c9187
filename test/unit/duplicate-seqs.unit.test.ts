/**
 * The rule that decides which of two envelopes claiming one seq stands (the first in
 * JetStream order), and the Msg-Id an append is published again under after a leader
 * kept its first one staged.
 */
import { describe, expect, it } from 'vitest';
import { DuplicateReporter, StandingFilter, type DuplicateSeqError } from '../../engine/store/jetstream/duplicate-seqs.js';
import type { Envelope } from '../../engine/store/jetstream/envelope.js';
import { rotatedMessageId } from '../../engine/store/jetstream/stream-appender.js';

function env(stream: string, firstSeq: number, count: number): Envelope {
  return {
    v: 1,
    stream,
    firstSeq,
    events: Array.from({ length: count }, (_, i) => ({ id: `${stream}-${firstSeq}-${i}`, type: 'T', data: {}, metadata: { actor: 'a', commandId: 'c', correlationId: 'c', at: 0, schemaVersion: 1 } })),
  };
}

describe('StandingFilter', () => {
  it('keeps the first envelope at a seq and skips later ones, per stream, whatever their length', () => {
    const skipped: DuplicateSeqError[] = [];
    const filter = new StandingFilter((d) => skipped.push(d));
    const log: Array<[Envelope, number]> = [
      [env('a', 1, 1), 1],
      [env('a', 2, 2), 2], // a: 2..3
      [env('b', 1, 1), 3],
      [env('a', 2, 1), 4], // shorter duplicate of a:2
      [env('a', 3, 2), 5], // overlaps a:3
      [env('a', 4, 1), 6], // stands: a continues at 4
      [env('b', 1, 3), 7], // longer duplicate of b:1
      [env('b', 2, 1), 8], // stands
      [env('a', 5, 0), 9], // key-only envelope: takes no seq, stands
      [env('a', 5, 1), 10], // stands
    ];
    const standing = log.filter(([e, seq]) => filter.admit(e, seq)).map(([, seq]) => seq);
    expect(standing).toEqual([1, 2, 3, 6, 8, 9, 10]);
    expect(skipped.map((d) => [d.stream, d.firstSeq, d.jetstreamSeq, d.standingVersion])).toEqual([
      ['a', 2, 4, 3],
      ['a', 3, 5, 3],
      ['b', 1, 7, 1],
    ]);
    expect(filter.versionOf('a')).toBe(5);
    expect(filter.versionOf('b')).toBe(2);
  });

  it('forgets the oldest stream beyond its bound and then takes that stream as new', () => {
    const filter = new StandingFilter(() => undefined, 2);
    filter.admit(env('a', 1, 1), 1);
    filter.admit(env('b', 1, 1), 2);
    filter.admit(env('c', 1, 1), 3);
    expect(filter.versionOf('a')).toBeUndefined();
    expect(filter.versionOf('c')).toBe(1);
  });

  it('reports each skipped envelope once, however often it is read', () => {
    const errors: unknown[] = [];
    const reporter = new DuplicateReporter((e) => errors.push(e));
    for (let read = 0; read < 3; read++) {
      const filter = new StandingFilter(reporter.report);
      filter.admit(env('a', 1, 1), 1);
      filter.admit(env('a', 1, 1), 2);
    }
    expect(reporter.count).toBe(1);
    expect(errors).toHaveLength(1);
  });
});

describe('rotatedMessageId', () => {
  it('keeps the key after the first colon, so index repair still reads it', () => {
    expect(rotatedMessageId('k:user:abc', 1)).toBe('k1:user:abc');
    expect(rotatedMessageId('k:user:abc', 2)).toBe('k2:user:abc');
    expect(rotatedMessageId('e:conversation-1:ev', 1)).toBe('e1:conversation-1:ev');
    const id = rotatedMessageId('k:user:abc', 3);
    expect(id.slice(/^k\d*:/.exec(id)![0].length)).toBe('user:abc');
  });
});
