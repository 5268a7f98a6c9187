/**
 * What a document room sends to its sockets, and how it cuts one off.
 *
 * Every send checks the socket's unread bytes first: past the bound it is closed as a slow
 * consumer (4504, transient). It resyncs with step 1/2 when it reconnects, so dropping what
 * it did not read loses nothing, and the node holds at most the bound plus one frame per
 * socket. A send that throws closes that socket (1011 `internal`), never the room.
 */
import type { WebSocket } from 'ws';
import { CLOSE, ParleyError, type ErrorBody, type ErrorCode } from '../protocol/index.js';
import type { Peer, Refusal } from './peer.js';
import { writeDeniedFrame } from './wire.js';

export interface RoomOutputDeps {
  /** Bytes queued to a socket it has not read, past which it is closed as a slow consumer. */
  sendBufferBytes: number;
  onRefused(reason: Refusal): void;
  onError(err: unknown): void;
  /** Forgets the socket in the room (before it is closed). */
  leave(socket: WebSocket): void;
}

/** Sends, denials and cut-offs for the sockets of one room. */
export class RoomOutput {
  constructor(private readonly deps: RoomOutputDeps) {}

  /** Sends unless the socket is closed, or is cut off as a slow consumer. */
  send(peer: Peer, frame: Uint8Array): void {
    const socket = peer.socket;
    if (socket.readyState !== socket.OPEN) return;
    if (socket.bufferedAmount > this.deps.sendBufferBytes) {
      this.deps.onRefused('slow_consumer');
      this.cutOff(peer, CLOSE.slowConsumer, 'limit_exceeded');
      return;
    }
    try {
      socket.send(frame);
    } catch (err) {
      this.deps.onError(err);
      this.cutOff(peer, 1011, 'internal');
    }
  }

  /** Sends to every peer but the socket `except` (the writer, which has the update). */
  broadcast(peers: Iterable<Peer>, frame: Uint8Array, except: WebSocket | null = null): void {
    for (const peer of [...peers]) if (peer.socket !== except) this.send(peer, frame);
  }

  /** Tells the peer why its frame was refused (an auth frame); the socket stays open. */
  deny(peer: Peer, code: ErrorCode, message?: string): void {
    const body: ErrorBody = new ParleyError(code, message).toBody();
    this.send(peer, writeDeniedFrame(body));
  }

  /** Forgets the socket and closes it with `code` (the reason is an error code). */
  cutOff(peer: Peer, code: number, reason: string): void {
    this.deps.leave(peer.socket);
    try {
      peer.socket.close(code, reason);
    } catch {
      peer.socket.terminate();
    }
  }
}
