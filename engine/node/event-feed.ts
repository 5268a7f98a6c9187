/**
 * The typed event feed for consumers outside the node: every event from a global
 * position, in order, optionally filtered by conversation and type, then live.
 *
 * Two framings of the same stream: NDJSON (one event per line; the default, easy from
 * any language) and Server-Sent Events (`Accept: text/event-stream`; `id:` is the
 * position, so a reconnecting EventSource resumes by itself via Last-Event-ID).
 *
 * Gap-free: the live feed is subscribed to (and buffered) before the log is read, and
 * buffered events at or below the last position sent are dropped.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { EventStore, StoredEvent } from '../store/index.js';
import { conversationStream } from '../store/index.js';

export interface FeedQuery {
  from?: number;
  conversation?: string;
  types?: string;
  follow?: boolean;
  limit?: number;
}

const PAGE = 1000;
const HEARTBEAT_MS = 15_000;

export async function streamFeed(store: EventStore, request: FastifyRequest<{ Querystring: FeedQuery }>, reply: FastifyReply): Promise<void> {
  const q = request.query;
  const sse = (request.headers.accept ?? '').includes('text/event-stream');
  const lastEventId = Number(request.headers['last-event-id']);
  let position = Number.isInteger(lastEventId) && lastEventId > 0 ? lastEventId : (q.from ?? 0);
  const types = q.types ? new Set(q.types.split(',')) : null;
  const stream = q.conversation ? conversationStream(q.conversation) : null;
  const wanted = (e: StoredEvent) => (!stream || e.stream === stream) && (!types || types.has(e.type));
  let remaining = q.limit ?? Infinity;

  reply.hijack();
  const out = reply.raw;
  out.writeHead(200, {
    'content-type': sse ? 'text/event-stream; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
    'cache-control': 'no-store',
    'x-accel-buffering': 'no',
  });
  let closed = false;
  let wake: (() => void) | null = null;
  // The response's close (not the request's) tells that the client went away.
  out.once('close', () => {
    closed = true;
    wake?.();
  });

  const live: StoredEvent[] = [];
  const unsubscribe = q.follow
    ? store.subscribe((events) => {
        live.push(...events);
        wake?.();
      })
    : () => {};
  const heartbeat = setInterval(() => out.write(sse ? ': keep-alive\n\n' : '\n'), HEARTBEAT_MS);

  const send = async (e: StoredEvent) => {
    position = e.position;
    if (!wanted(e) || remaining <= 0) return;
    remaining -= 1;
    const json = JSON.stringify(e);
    const ok = out.write(sse ? `id: ${e.position}\nevent: ${e.type}\ndata: ${json}\n\n` : `${json}\n`);
    if (!ok) await new Promise((r) => out.once('drain', r));
  };

  try {
    // The log first, page by page, with backpressure from the socket.
    for (;;) {
      const page = await store.readAll(position, PAGE);
      for (const e of page) {
        if (closed || remaining <= 0) return;
        await send(e);
      }
      if (page.length < PAGE) break;
    }
    // Then live, until the client goes away.
    while (q.follow && !closed && remaining > 0) {
      if (live.length === 0) await new Promise<void>((r) => ((wake = r), setTimeout(r, 1000)));
      wake = null;
      for (const e of live.splice(0)) if (e.position > position && !closed) await send(e);
    }
  } finally {
    clearInterval(heartbeat);
    unsubscribe();
    out.end();
  }
}
