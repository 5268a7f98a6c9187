/**
 * One signaling socket: whose it is, which topics it joined, and the frames waiting their
 * turn. Frames are handled one at a time and in order, because a subscribe waits for the
 * read check (the conversation's state) and y-webrtc publishes its `announce` right after
 * subscribing: handled out of order, the announce would be dropped as "not subscribed".
 */
import type { WebSocket } from 'ws';

export class SignalingSocket {
  /** Topics (document names) this socket joined, each passed the read check. */
  readonly topics = new Set<string>();
  private chain: Promise<void> = Promise.resolve();
  private waiting = 0;
  /** Set once the token is verified. */
  userId: string | null = null;
  closed = false;

  constructor(readonly socket: WebSocket) {}

  /**
   * Runs `task` after every task queued before it; false (and nothing queued) when
   * `maxWaiting` tasks already wait, so a client cannot queue without bound while a check
   * is slow.
   */
  enqueue(task: () => Promise<void> | void, maxWaiting: number, onError: (err: unknown) => void): boolean {
    if (this.waiting >= maxWaiting) return false;
    this.waiting++;
    this.chain = this.chain
      .then(() => (this.closed ? undefined : task()))
      .catch(onError)
      .finally(() => {
        this.waiting--;
      });
    return true;
  }

  /** Sends unless the socket is gone; false when its send buffer is past `maxBufferedBytes` (a slow consumer). */
  send(text: string, maxBufferedBytes: number): boolean {
    if (this.closed || this.socket.readyState !== this.socket.OPEN) return true;
    if (this.socket.bufferedAmount > maxBufferedBytes) return false;
    this.socket.send(text);
    return true;
  }
}
