/**
 * Writing to a `ws` socket the way a busy fan-out wants to, in the one file that knows
 * `ws`'s internals (checked by test/int/socket-writes.int.test.ts against the installed
 * version; if they change, every write here falls back to the public `send`).
 *
 * - `writeEncoded`: a frame encoded once for many sockets (encoded-frame.ts) goes to the
 *   TCP socket as one Buffer, one write — as engine.io does with a broadcast's pre-encoded
 *   frame — when `ws`'s sender has nothing of its own in progress (no deflate running, no
 *   queue, no fragmented message open), so frames keep their order on the wire.
 * - `writeText`: a frame built for one socket (an ack, an error, a catch-up page) the same
 *   way, encoded here into one Buffer, unless the socket deflates (then `ws` must).
 * - `holdWrites` / `releaseWrites`: a command's sender gets its own event (the commit's
 *   fan-out) and then its ack, a few microtasks apart in the same turn. Corked between
 *   the two they leave in one write, not two: at 500 posts/s one write of the 11 per post;
 *   at saturation, where a sender has several commands in one commit, one write for its
 *   events and all their acks. The hold ends with the round of microtasks that sends the
 *   acks, or at the end of the turn (setImmediate) whatever happens;
 *   the held bytes count in `bufferedAmount`, so the send buffer's bounds still see them.
 *
 * Corking each socket for a whole event-loop turn was tried and taken out: it let the
 * kernel's loopback buffers take ~45 MiB of a never-reading client's frames before the
 * node's own send buffer (and its slow-consumer close) saw anything, and it held every
 * frame until the turn's end; its CPU gain could not be shown on this machine.
 */
import type { WebSocket } from 'ws';
import { encodeTextFrame } from './encoded-frame.js';

/** `ws`'s Sender as far as this file relies on it (ws 8). */
interface WsSender {
  _state: number;
  _extensions: Record<string, unknown>;
  _queue: unknown[];
  _firstFragment: boolean;
  _socket: WsTcp;
  sendFrame(list: Buffer[], cb?: (err?: Error) => void): void;
}
interface WsTcp {
  cork(): void;
  uncork(): void;
  readonly destroyed: boolean;
  readonly writableCorked: number;
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

/**
 * Writes `text` as a text frame in one Buffer; false (nothing written) when the caller
 * must go through `ws.send`: the sender is busy, or the socket negotiated
 * permessage-deflate (the frame may have to be compressed, and only `ws` knows how).
 */
export function writeText(socket: WebSocket, text: string): boolean {
  const sender = idleSender(socket);
  if (!sender || sender._extensions === null || typeof sender._extensions !== 'object' || 'permessage-deflate' in sender._extensions) return false;
  sender.sendFrame([encodeTextFrame(text)]);
  return true;
}

/** Whether `writeEncoded` can write to this socket now (tests: the fast path is in use). */
export function canWriteEncoded(socket: WebSocket): boolean {
  return idleSender(socket) !== undefined;
}

/** Sockets held in this turn, let go at its end if their ack has not done it. */
let held: WsTcp[] = [];
let releaseScheduled = false;

/** The TCP socket under `ws`, if it has the shape this file knows. */
function tcpOf(socket: WebSocket): WsTcp | undefined {
  const tcp = (socket as unknown as WsInternals)._socket;
  return tcp && typeof tcp.cork === 'function' && typeof tcp.writableCorked === 'number' ? tcp : undefined;
}

/**
 * Holds the socket's writes (corks it) until `releaseWrites`, or the end of this turn.
 * `ws` corks only within one call of its own, so a socket found corked here is held already.
 */
export function holdWrites(socket: WebSocket): void {
  const tcp = tcpOf(socket);
  if (!tcp || tcp.destroyed || tcp.writableCorked !== 0) return;
  tcp.cork();
  held.push(tcp);
  if (!releaseScheduled) {
    releaseScheduled = true;
    setImmediate(releaseHeld);
  }
}

/**
 * Lets the socket's held writes go, in one write, once the microtasks queued so far have
 * run: the acks of one commit are answered in the same round of microtasks, so a sender
 * with several commands in it gets its events and all those acks in one write.
 */
export function releaseWrites(socket: WebSocket): void {
  const tcp = tcpOf(socket);
  if (tcp && tcp.writableCorked > 0) queueMicrotask(() => letGo(tcp));
}

function letGo(tcp: WsTcp): void {
  try {
    if (tcp.writableCorked > 0) tcp.uncork();
  } catch {
    // A failed write is emitted as the socket's error, not thrown; nothing may escape a microtask.
  }
}

function releaseHeld(): void {
  releaseScheduled = false;
  const sockets = held;
  held = [];
  // The other sockets must not stay held whatever one of them does (see letGo).
  for (const tcp of sockets) letGo(tcp);
}
