/** The log checks of `parley verify` (engine/cli/log-check.ts), given events in position order. */
import { describe, expect, it } from 'vitest';
import { LogCheck } from '../../engine/cli/log-check.js';
import type { StoredEvent } from '../../engine/store/index.js';

const at = (position: number, stream: string, seq: number): StoredEvent => ({
  position,
  stream,
  seq,
  id: `${stream}/${seq}@${position}`,
  type: 'T',
  data: {},
  metadata: { actor: 'a', commandId: 'c', correlationId: 'c', at: 0, schemaVersion: 1 },
});

function problemsOf(densePositions: boolean, events: StoredEvent[]): string[] {
  const check = new LogCheck(densePositions);
  check.add(events);
  return check.problems();
}

describe('LogCheck', () => {
  it('finds nothing wrong in a healthy log, with or without dense positions', () => {
    const log = [at(1, 'a', 1), at(2, 'b', 1), at(3, 'a', 2), at(4, 'a', 3)];
    expect(problemsOf(true, log)).toEqual([]);
    expect(problemsOf(false, log.map((e) => ({ ...e, position: e.position * 1024 })))).toEqual([]);
  });

  it('names missing seqs, including a stream that does not start at 1, as ranges', () => {
    expect(problemsOf(false, [at(1, 'a', 2), at(2, 'b', 1), at(3, 'b', 5), at(4, 'b', 7)])).toEqual([
      'stream a: seqs are not dense, missing 1',
      'stream b: seqs are not dense, missing 2..4, 6',
    ]);
  });

  it('reports a seq that comes after a higher one as out of order, not missing', () => {
    expect(problemsOf(false, [at(1, 'a', 1), at(2, 'a', 3), at(3, 'a', 2)])).toEqual([
      'stream a: seq 2 has position 3, after seq 3 at position 2: positions must grow with seq',
    ]);
  });

  it('reports a seq given twice and a position that goes back', () => {
    expect(problemsOf(false, [at(1, 'a', 1), at(2, 'a', 1), at(2, 'a', 2)])).toEqual([
      'stream a: seq 1 appears again at position 2',
      'the log gives position 2 (a seq 2) after position 2',
    ]);
  });

  it('reports holes in positions only where the store gives them densely', () => {
    const log = [at(1, 'a', 1), at(2, 'a', 2), at(5, 'b', 1), at(7, 'b', 2)];
    expect(problemsOf(true, log)).toEqual(['positions have holes (events removed from the log?): 3..4, 6']);
    expect(problemsOf(false, log)).toEqual([]);
  });
});
