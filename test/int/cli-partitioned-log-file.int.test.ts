/**
 * The version 2 log file (a partitioned log's export, engine/cli/log-file.ts): its header
 * names the partition count and the cursor it covers, positions grow per partition, and a
 * header or an event that does not fit is refused by line, as every bad line is.
 */
import { describe, expect, it } from 'vitest';
import { headerLine, LogFileError, LogFileReader } from '../../engine/cli/log-file.js';
import { LogCursor } from '../../engine/store/index.js';

const N = 3;
const cursor = LogCursor.start(N).advancedBy([{ position: 30 }, { position: 13 }, { position: 8 }]);
const event = (position: number, stream: string, seq: number) =>
  JSON.stringify({ kind: 'event', position, stream, seq, id: `e${position}`, type: 'T', data: {}, metadata: { at: 1 } });

function read(lines: string[]): LogFileReader {
  const reader = new LogFileReader();
  for (const l of lines) reader.read(l);
  return reader;
}

describe('a log file of a partitioned log', () => {
  it('is version 2 with the partition count and cursor, and reads positions in order per partition', () => {
    const header = JSON.parse(headerLine(cursor));
    expect(header).toMatchObject({ kind: 'parley-log', version: 2, partitions: N, cursor: cursor.encode() });
    expect(header.head).toBeUndefined();
    // Partition 0 at 30, partition 1 at 13 and 4, partition 2 at 8: no order across them.
    const reader = read([headerLine(cursor), event(30, 'a', 1), event(4, 'b', 1), event(8, 'c', 1), event(13, 'b', 2), JSON.stringify({ kind: 'end', events: 4, idempotency: 0 })]);
    reader.end();
    expect(reader.partitions).toBe(N);
  });

  it('an unpartitioned log stays version 1 with its head', () => {
    expect(JSON.parse(headerLine(LogCursor.at(42)))).toMatchObject({ kind: 'parley-log', version: 1, head: 42 });
    expect(read([headerLine(LogCursor.at(42))]).partitions).toBe(1);
  });

  it('refuses a bad header, a position out of order in its partition, and one past the cursor, by line', () => {
    const bad = (header: object) => JSON.stringify({ kind: 'parley-log', version: 2, exportedAt: 'x', ...header });
    for (const header of [{}, { partitions: 3 }, { partitions: 65, cursor: '0' }, { partitions: 2, cursor: cursor.encode() }, { partitions: 3, cursor: 'c1.!!' }]) {
      expect(() => read([bad(header)])).toThrow(LogFileError);
    }
    expect(() => read([JSON.stringify({ kind: 'parley-log', version: 3 })])).toThrow(/version 3/);
    expect(() => read([headerLine(cursor), event(13, 'b', 1), event(4, 'b', 2)])).toThrow(/line 3: position 4 is not after the previous 13 of partition 1/);
    expect(() => read([headerLine(cursor), event(33, 'a', 1)])).toThrow(/line 2: position 33 is past the cursor/);
  });
});
