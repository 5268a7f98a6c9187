/**
 * The fan-out benchmark counts a delivery per send-time marker in a frame. Parley may put
 * several events in one frame; if only the first marker counted, its deliveries would be
 * under-counted and a saturating sender's window would shrink, so the bench would report
 * the batching as a slowdown.
 */
import { describe, expect, it } from 'vitest';
import { forEachSentAt, markedText } from '../../bench/load/send-marker.js';

const collect = (frame: string): number[] => {
  const out: number[] = [];
  forEachSentAt(Buffer.from(frame), (t) => out.push(t));
  return out;
};

describe('bench send-time marker', () => {
  it('round-trips a send time through a post text of the asked size', () => {
    const text = markedText(100, 1_764_450_000_123.456);
    expect(text).toHaveLength(100);
    expect(collect(JSON.stringify({ t: 'msg', room: 'r', seq: 1, from: 'u', text }))).toEqual([1_764_450_000_123.456]);
  });

  it('finds every post in a frame that carries several events, in order', () => {
    const events = [1, 2, 3].map((i) => ({ type: 'MessagePosted', data: { text: markedText(40, 1000 + i) } }));
    expect(collect(JSON.stringify({ type: 'events', events }))).toEqual([1001, 1002, 1003]);
  });

  it('ignores frames without a marker and markers that are cut off or not a number', () => {
    expect(collect('{"type":"ack","id":"c1"}')).toEqual([]);
    expect(collect('{"text":"@T12.5"}')).toEqual([]);
    expect(collect('{"text":"@Tabc@ then @T7@"}')).toEqual([7]);
    expect(collect('{"text":"@T@x"}')).toEqual([]);
  });
});
