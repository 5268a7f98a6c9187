/**
 * What a failover test asserts of the log it leaves: every acknowledged append is in it
 * exactly once, at the stream and seq its ack named; nothing is in it twice; each
 * writer's stream is dense from seq 1.
 */
import { expect } from 'vitest';
import type { EventStore, StoredEvent } from '../../engine/store/port.js';

export type AckedAppends = Map<string, { stream: string; seq: number }>;

export async function expectEveryAckOnceInTheLog(store: EventStore, all: StoredEvent[], acked: AckedAppends, streams: string[]): Promise<void> {
  const counts = new Map<string, number>();
  for (const e of all) counts.set(e.id, (counts.get(e.id) ?? 0) + 1);
  for (const [id, at] of acked) expect(counts.get(id), `acked event ${id} at ${at.stream}#${at.seq}`).toBe(1);
  expect([...counts.values()].every((n) => n === 1)).toBe(true);
  for (const stream of streams) {
    const events = await store.readStream(stream, { limit: 100_000 });
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    for (const e of events) {
      const at = acked.get(e.id);
      if (at) expect(at).toEqual({ stream, seq: e.seq });
    }
  }
}
