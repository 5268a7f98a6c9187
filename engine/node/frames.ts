/**
 * Serializing server frames. A live event is serialized once per delivery batch, and the
 * frame carrying it is encoded once, WebSocket header included, and written to every
 * subscriber as it is (encoded-frame.ts).
 */
import type { ErrorBody, ServerFrame, WireEvent } from '../../protocol/index.js';
import type { StoredEvent } from '../store/index.js';
import { conversationIdOf } from '../store/index.js';
import { EncodedFrame } from './encoded-frame.js';

export function toWireEvent(e: StoredEvent): WireEvent {
  return {
    conversationId: conversationIdOf(e.stream) ?? e.stream,
    seq: e.seq,
    position: e.position,
    id: e.id,
    type: e.type,
    data: e.data,
    actor: e.metadata.actor,
    at: e.metadata.at,
    commandId: e.metadata.commandId,
  } as WireEvent;
}

/**
 * The events of one conversation with consecutive seqs from one committed batch (a
 * "run"), each serialized once. A socket that needs all of them gets one shared frame:
 * `event` for one, `events` (as catch-up uses) for more; one that already has some of
 * them gets the rest in a frame of its own, or one frame per event when that is too big
 * to send at once (so the send buffer's bound is checked between them).
 */
export class LiveRun {
  readonly firstSeq: number;
  readonly lastSeq: number;
  private readonly wires: string[];
  private readonly frames: Array<EncodedFrame | undefined> = [];
  private whole: EncodedFrame | undefined;
  private allBytes: number | undefined;

  constructor(
    readonly conversationId: string,
    readonly events: StoredEvent[],
  ) {
    this.firstSeq = events[0]!.seq;
    this.lastSeq = events[events.length - 1]!.seq;
    this.wires = events.map((e) => JSON.stringify(toWireEvent(e)));
  }

  get length(): number {
    return this.wires.length;
  }

  /** About how many bytes the frame of the events from index `from` on holds. */
  bytesFrom(from: number): number {
    // Asked by every subscriber, nearly always for the whole run: counted once.
    if (from === 0) return (this.allBytes ??= this.countBytesFrom(0));
    return this.countBytesFrom(from);
  }

  private countBytesFrom(from: number): number {
    let n = 64;
    for (let i = from; i < this.wires.length; i++) n += this.wires[i]!.length + 1;
    return n;
  }

  /** One frame with the events from index `from` on (shared by every socket that needs all of them). */
  frameFrom(from: number): EncodedFrame {
    if (from === this.wires.length - 1) return this.single(from);
    if (from === 0) return (this.whole ??= new EncodedFrame(eventsFrameOf(this.conversationId, this.wires)));
    return new EncodedFrame(eventsFrameOf(this.conversationId, this.wires.slice(from)));
  }

  /** The `event` frame of the event at index `i` (shared). */
  single(i: number): EncodedFrame {
    return (this.frames[i] ??= new EncodedFrame(`{"type":"event","event":${this.wires[i]!}}`));
  }
}

/** One frame for a page of one conversation's events (catch-up): one write instead of hundreds. */
export function eventsFrame(conversationId: string, events: StoredEvent[]): string {
  return eventsFrameOf(conversationId, events.map((e) => JSON.stringify(toWireEvent(e))));
}

/**
 * A catch-up page as frames of about `maxBytes` at most (each holds at least one event),
 * so a page of large messages cannot put megabytes on a socket in one write.
 */
export function eventsFrames(conversationId: string, events: StoredEvent[], maxBytes: number): Array<{ frame: string; lastSeq: number }> {
  const frames: Array<{ frame: string; lastSeq: number }> = [];
  let chunk: string[] = [];
  let size = 0;
  events.forEach((e, i) => {
    const wire = JSON.stringify(toWireEvent(e));
    chunk.push(wire);
    size += wire.length + 1;
    const next = events[i + 1];
    if (next === undefined || size >= maxBytes) {
      frames.push({ frame: eventsFrameOf(conversationId, chunk), lastSeq: e.seq });
      chunk = [];
      size = 0;
    }
  });
  return frames;
}

function eventsFrameOf(conversationId: string, serialized: string[]): string {
  return `{"type":"events","conversationId":${JSON.stringify(conversationId)},"events":[${serialized.join(',')}]}`;
}

export function errorFrame(body: ErrorBody, extra: { id?: string; conversationId?: string } = {}): string {
  return JSON.stringify({ type: 'error', ...extra, code: body.code, message: body.message } satisfies ServerFrame);
}

export function frame(f: ServerFrame): string {
  return JSON.stringify(f);
}
