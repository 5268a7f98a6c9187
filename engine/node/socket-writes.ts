/**
 * Writing to a `ws` socket the way a busy fan-out wants to, in the one file that knows
 * `ws`'s internals (checked by test/int/socket-writes.int.test.ts against the installed
 * version; if they change, every write here falls back to the public `send`).
 *
 * - `writeEncoded`: a frame encoded once for many sockets (encoded-frame.ts) goes to the
 *   TCP socket as one Buffer, one write — as engine.io does with a broadcast's pre-encoded
 *   frame — when `ws`'s sender has nothing of its own in progress (no deflate running, no
 *   queue, no fragmented message open), so frames keep their order on the wire.
 *
 * Corking each socket for a whole event-loop turn was tried and taken out: it let the
 * kernel's loopback buffers take ~45 MiB of a never-reading client's frames before the
 * node's own send buffer (and its slow-consumer close) saw anything, and it held every
 * frame until the turn's end; its CPU gain could not be shown on this machine.
 */
import type { WebSocket } from 'ws';

/** `ws`'s Sender as far as this file relies on it (ws 8). */
interface WsSender {
  _state: number;
  _queue: unknown[];
  _firstFragment: boolean;
  _socket: WsTcp;
  sendFrame(list: Buffer[], cb?: (err?: Error) => void): void;
}
interface WsTcp {
  cork(): void;
  uncork(): void;
  readonly destroyed: boolean;
  readonly writableCorked?: number;
}
interface WsInternals {
  _sender?: WsSender | null;
  _socket?: WsTcp | null;
}

/** The sender's idle state in ws 8 (`DEFAULT` in ws/lib/sender.js). */
const SENDER_IDLE = 0;

/** The sender, if this socket's `ws` still has the shape this file knows and nothing of its own is in progress. */
function idleSender(socket: WebSocket): WsSender | undefined {
  const sender = (socket as unknown as WsInternals)._sender;
  if (!sender || typeof sender.sendFrame !== 'function') return undefined;
  if (sender._state !== SENDER_IDLE || !Array.isArray(sender._queue) || sender._queue.length !== 0 || sender._firstFragment !== true) return undefined;
  return sender;
}

/**
 * Writes a frame encoded with its header straight to the TCP socket; false (nothing
 * written) when the caller must go through `ws.send` instead. The caller checked the
 * socket is open.
 */
export function writeEncoded(socket: WebSocket, wire: Buffer): boolean {
  const sender = idleSender(socket);
  if (!sender) return false;
  sender.sendFrame([wire]);
  return true;
}

/** Whether `writeEncoded` can write to this socket now (tests: the fast path is in use). */
export function canWriteEncoded(socket: WebSocket): boolean {
  return idleSender(socket) !== undefined;
}
