/** Serializing server frames. An event is serialized once and the string sent to every subscriber. */
import type { ErrorBody, ServerFrame, WireEvent } from '../../protocol/index.js';
import type { StoredEvent } from '../store/index.js';
import { conversationIdOf } from '../store/index.js';

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

export function eventFrame(e: StoredEvent): string {
  return JSON.stringify({ type: 'event', event: toWireEvent(e) } satisfies ServerFrame);
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
