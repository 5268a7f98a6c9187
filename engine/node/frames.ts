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
  return `{"type":"events","conversationId":${JSON.stringify(conversationId)},"events":[${events
    .map((e) => JSON.stringify(toWireEvent(e)))
    .join(',')}]}`;
}

export function errorFrame(body: ErrorBody, extra: { id?: string; conversationId?: string } = {}): string {
  return JSON.stringify({ type: 'error', ...extra, code: body.code, message: body.message } satisfies ServerFrame);
}

export function frame(f: ServerFrame): string {
  return JSON.stringify(f);
}
