/**
 * A server frame encoded once, WebSocket header included, for every socket that gets it.
 *
 * Server frames are never masked, so a text frame's bytes are the same on every socket:
 * a live event (or typing, or presence) is turned into bytes once per delivery batch and
 * the same Buffer is written to each subscriber, as Socket.IO does for a room broadcast.
 * `ws` would otherwise, per socket, measure the payload, build a header and write the two
 * as a writev (see socket-writes.ts for how it is written and when it falls back).
 */
const FIN_TEXT = 0x81;

export class EncodedFrame {
  /** The whole frame: header and payload. */
  readonly wire: Buffer;
  /** The payload alone (a view into `wire`), for a socket that must go through `ws`. */
  readonly payload: Buffer;

  constructor(text: string) {
    const wire = encodeTextFrame(text);
    this.wire = wire;
    this.payload = wire.subarray(wire[1] === 126 ? 4 : wire[1] === 127 ? 10 : 2);
  }

  /** Bytes the payload holds (what `ws` counts in `bufferedAmount` for it). */
  get length(): number {
    return this.payload.length;
  }

  /** The frame's JSON text (tests and logs). */
  toString(): string {
    return this.payload.toString('utf8');
  }
}

/**
 * The bytes of an unmasked text frame carrying `text`, header included: one Buffer, so
 * it leaves in one write (`ws` would make a header and a payload and write the two).
 */
export function encodeTextFrame(text: string): Buffer {
  const length = Buffer.byteLength(text);
  const header = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const wire = Buffer.allocUnsafe(header + length);
  wire[0] = FIN_TEXT;
  if (header === 2) wire[1] = length;
  else if (header === 4) {
    wire[1] = 126;
    wire.writeUInt16BE(length, 2);
  } else {
    wire[1] = 127;
    // Frames here are far below 2^32 bytes: the high word is zero.
    wire.writeUInt32BE(0, 2);
    wire.writeUInt32BE(length, 6);
  }
  wire.write(text, header, 'utf8');
  return wire;
}
