/**
 * The send-time marker every fan-out post carries: `@T<wall clock ms>@` at the start of
 * its text. Receivers look for it in the raw frame instead of parsing JSON, so reading a
 * delivery costs the client the same whatever the system's frame format. A server may put
 * several events in one frame (Parley sends a socket's events of one tick together), so a
 * frame can hold several markers, and each one is a delivery.
 */
import { wallNow } from './histogram.js';

const MARK = Buffer.from('@T');
const END = 0x40; // '@'

/** A post text of about `bytes` characters that starts with the marker for now. */
export function markedText(bytes: number, now = wallNow()): string {
  const head = `@T${now.toFixed(3)}@`;
  return head + 'x'.repeat(Math.max(0, bytes - head.length));
}

/** Calls `each` with the send time of every marked post in `frame`, in order. */
export function forEachSentAt(frame: Buffer, each: (sentAt: number) => void): void {
  let i = frame.indexOf(MARK);
  while (i >= 0) {
    const end = frame.indexOf(END, i + 2);
    if (end < 0) return;
    const t0 = Number(frame.toString('latin1', i + 2, end));
    if (end > i + 2 && !Number.isNaN(t0)) each(t0);
    i = frame.indexOf(MARK, end + 1);
  }
}
