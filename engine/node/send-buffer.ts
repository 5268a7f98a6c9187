/**
 * The bounded send buffer of one socket.
 *
 * `ws` never refuses a send: whatever a client does not read piles up in the node's
 * memory (`bufferedAmount`). A client that stops reading must cost the node a bounded
 * amount however much is posted, so every frame goes out through one of three doors:
 *
 * - `sendPaced` — catch-up pages. The caller waited for `drained()` first, and pages are
 *   cut to `chunkBytes`, so they can never push the buffer far past the low-water mark.
 * - `send` — frames that cannot wait (live events while the buffer is low, acks, errors,
 *   presence). Past the hard bound (twice `maxBytes`) the socket is closed with 4504: the
 *   client reconnects and catches up gap-free from its last seq.
 * - `sendEphemeral` — typing: dropped while the buffer is over its bound, nothing is lost.
 *
 * `congested` (over `maxBytes`) tells a subscription to stop sending live frames and fall
 * back to paced catch-up from its last delivered seq, reading the log instead of holding
 * frames. A socket whose catch-up cannot get below the low-water mark for `stallMs` is
 * closed with 4504 too, so a client that never reads again is let go (a subscription
 * also lets go of one that reads, but too slowly to ever get back to live).
 */
import type { WebSocket } from 'ws';
import { CLOSE } from '../../protocol/index.js';
import type { EncodedFrame } from './encoded-frame.js';
import { holdWrites, releaseWrites, writeEncoded, writeText } from './socket-writes.js';

export interface SendBufferLimits {
  /** The soft bound in bytes: over it, live frames become paced catch-up. */
  maxBytes: number;
  /** How long a catch-up may wait for the client to read before the socket is closed. */
  stallMs: number;
  /** Below this, paced catch-up sends its next page. */
  lowWater: number;
  /** The most a catch-up page frame should hold, so a few catch-ups in flight stay under the bound. */
  chunkBytes: number;
}

/** The limits of every socket of a node, computed once and shared (they cost nothing per socket). */
export function sendBufferLimits(maxBytes: number, stallMs: number): SendBufferLimits {
  return {
    maxBytes,
    stallMs,
    lowWater: Math.min(1 << 20, Math.floor(maxBytes / 4)),
    chunkBytes: Math.max(4 * 1024, Math.floor(maxBytes / 16)),
  };
}

/** Told once when the socket is closed for reading too slowly. */
export interface SlowCloseListener {
  slowClosed(reason: string): void;
}

const POLL_MS = 10;
/** Frames are text frames, whether built as a string or (shared by many sockets) as bytes. */
const TEXT = { binary: false } as const;
/**
 * A frame encoded once for many sockets (live events) goes out as it is: deflating
 * it would redo the work per subscriber, in zlib's thread pool, and hold every later frame
 * of the socket until done (at 500 posts/s that queued deliveries for seconds).
 */
const SHARED = { binary: false, compress: false } as const;

/** A frame for `send`: built for this socket (a string) or encoded once for many. */
export type OutFrame = string | EncodedFrame;

/**
 * An idle socket holds nothing here but three references: the waiters and the poll timer
 * exist only while a catch-up waits for the client to read.
 */
export class SendBuffer {
  private waiters: Array<() => void> | undefined;
  private poll: NodeJS.Timeout | undefined;
  private waitingSince = 0;

  constructor(
    private readonly socket: WebSocket,
    private readonly limits: SendBufferLimits,
    private readonly listener: SlowCloseListener,
  ) {}

  get lowWater(): number {
    return this.limits.lowWater;
  }

  get chunkBytes(): number {
    return this.limits.chunkBytes;
  }

  get open(): boolean {
    return this.socket.readyState === this.socket.OPEN;
  }

  get congested(): boolean {
    return this.socket.bufferedAmount > this.limits.maxBytes;
  }

  send(f: OutFrame): void {
    if (!this.open) return;
    if (this.socket.bufferedAmount + f.length > 2 * this.limits.maxBytes) {
      this.closeSlow('send buffer over its hard bound');
      return;
    }
    this.write(f);
  }

  sendPaced(f: string): void {
    if (this.open) this.write(f);
  }

  sendEphemeral(f: OutFrame): void {
    if (this.open && !this.congested) this.write(f);
  }

  /** A frame leaves as one Buffer, in one write, when `ws` lets it (socket-writes.ts). */
  private write(f: OutFrame): void {
    if (typeof f === 'string') {
      if (!writeText(this.socket, f)) this.socket.send(f, TEXT);
    } else if (!writeEncoded(this.socket, f.wire)) this.socket.send(f.payload, SHARED);
  }

  /** Holds what is sent from now on, to leave in one write, until after `releaseWrites` or the turn's end (socket-writes.ts). */
  holdWrites(): void {
    if (this.open) holdWrites(this.socket);
  }

  releaseWrites(): void {
    releaseWrites(this.socket);
  }

  /** Resolves once the buffer is below the low-water mark, or the socket is no longer open. */
  drained(): Promise<void> {
    if (!this.open || this.socket.bufferedAmount <= this.limits.lowWater) return Promise.resolve();
    return new Promise((resolve) => {
      (this.waiters ??= []).push(resolve);
      if (this.poll === undefined) {
        this.waitingSince = Date.now();
        this.schedule();
      }
    });
  }

  /** Lets every waiter go (the socket closed). */
  release(): void {
    clearTimeout(this.poll);
    this.poll = undefined;
    const waiters = this.waiters;
    this.waiters = undefined;
    if (waiters) for (const w of waiters) w();
  }

  private schedule(): void {
    this.poll = setTimeout(() => {
      this.poll = undefined;
      try {
        if (this.open && this.socket.bufferedAmount > this.limits.lowWater) {
          if (Date.now() - this.waitingSince > this.limits.stallMs) this.closeSlow('client did not read its catch-up in time');
          else return this.schedule();
        }
      } catch {
        // Whatever went wrong, the waiters must not hang: they look at `open` themselves.
      }
      this.release();
    }, POLL_MS);
  }

  /** Closes the socket as a slow consumer (4504, transient: reconnect and catch up). */
  closeSlow(reason: string): void {
    if (!this.open) return;
    this.socket.close(CLOSE.slowConsumer, reason);
    this.listener.slowClosed(reason);
    this.release();
  }
}
