/**
 * The typed event feed for consumers outside the node: every event from a global
 * position, in order, optionally filtered by conversation and type, then live.
 *
 * Two framings of the same stream: NDJSON (one event per line; the default, easy from
 * any language) and Server-Sent Events (`Accept: text/event-stream`; `id:` is the log
 * cursor after the event, so a reconnecting EventSource resumes by itself via
 * Last-Event-ID).
 *
 * Resuming goes by log cursor (store/log-cursor.ts): on an unpartitioned log its token is
 * the plain position, exactly as before; on a partitioned one (no order across
 * partitions) each NDJSON line also carries `cursor`, the token to resume after it.
 *
 * Gap-free: the live feed is subscribed to (and buffered) before the log is read, and
 * buffered events the cursor already covers are dropped. A follower slower than the log
 * grows is read from the log again once its buffer is full (MAX_BUFFERED), not buffered
 * without end.
 *
 * A failure once the 200 is out (a read of the log failing) cannot change the status, so
 * the body says it: a last NDJSON line `{"error":{"code","message"}}`, or an SSE
 * `event: error` whose data is `{"code","message"}`; then the response ends. A consumer
 * thus tells a failure from the end of the log, and resumes from its last cursor.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isParleyError, ParleyError, type ErrorBody } from '../../protocol/index.js';
import type { EventStore, LogCursor, StoredEvent } from '../store/index.js';
import { conversationStream, cursorFor, isInvalidCursorError, isStoreUnavailableError, partitionsOf, readAllAfter } from '../store/index.js';

export interface FeedQuery {
  /** A log cursor token (see the header). */
  from?: string;
  conversation?: string;
  types?: string;
  follow?: boolean;
  limit?: number;
}

const PAGE = 1000;
const HEARTBEAT_MS = 15_000;
/**
 * Live events held for one follower while it reads slower than the log grows. Past this the
 * buffer is dropped and the follower is served from the log again (the truth, and already
 * on disk), so a slow consumer costs the node a bounded buffer, not one event per append.
 */
const MAX_BUFFERED = 10_000;

export async function streamFeed(store: EventStore, request: FastifyRequest<{ Querystring: FeedQuery }>, reply: FastifyReply): Promise<void> {
  const q = request.query;
  const sse = (request.headers.accept ?? '').includes('text/event-stream');
  let cursor = startingCursor(store, request);
  const partitioned = partitionsOf(store) > 1;
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
  // Headers go out now: a follower starting at the head would otherwise wait for the first
  // event or keep-alive (15 s) before its request even resolves.
  out.flushHeaders();
  let closed = false;
  let wake: (() => void) | null = null;
  // The response's close (not the request's) tells that the client went away.
  out.once('close', () => {
    closed = true;
    wake?.();
  });

  const live: StoredEvent[] = [];
  // Set when the live buffer overflowed: what it dropped is in the log, to be read again from there.
  let behind = false;
  const unsubscribe = q.follow
    ? store.subscribe((events) => {
        if (behind) return;
        live.push(...events);
        if (live.length > MAX_BUFFERED) {
          live.length = 0;
          behind = true;
        }
        wake?.();
      })
    : () => {};
  const heartbeat = setInterval(() => out.write(sse ? ': keep-alive\n\n' : '\n'), HEARTBEAT_MS);

  const send = async (e: StoredEvent) => {
    cursor = cursor.advancedBy([e]);
    if (!wanted(e) || remaining <= 0) return;
    remaining -= 1;
    const token = cursor.encode();
    const json = JSON.stringify(partitioned && !sse ? { ...e, cursor: token } : e);
    const ok = out.write(sse ? `id: ${token}\nevent: ${e.type}\ndata: ${json}\n\n` : `${json}\n`);
    if (!ok && !closed) await drainedOrClosed(out);
  };

  try {
    do {
      behind = false;
      // The log first, page by page, with backpressure from the socket.
      for (;;) {
        const page = await readAllAfter(store, cursor, PAGE);
        for (const e of page) {
          if (closed || remaining <= 0) return;
          await send(e);
        }
        if (page.length < PAGE) break;
      }
      // Then live, until the client goes away, or falls so far behind that the log serves it again.
      while (q.follow && !closed && remaining > 0 && !behind) {
        if (live.length === 0) await new Promise<void>((r) => ((wake = r), setTimeout(r, 1000)));
        wake = null;
        for (const e of live.splice(0)) if (!cursor.covers(e.position) && !closed && !behind) await send(e);
      }
    } while (behind && !closed && remaining > 0);
  } catch (err) {
    const body = feedError(err);
    request.log.error({ err, code: body.code, cursor: cursor.encode() }, 'admin feed failed after it started; ended with an error');
    if (!closed) out.write(sse ? `event: error\ndata: ${JSON.stringify(body)}\n\n` : `${JSON.stringify({ error: body })}\n`);
  } finally {
    clearInterval(heartbeat);
    unsubscribe();
    out.end();
  }
}

/** The coded error a failed feed ends with: an outage of the store is `unavailable` (try again), anything else `internal`. */
function feedError(err: unknown): ErrorBody {
  if (isParleyError(err)) return err.toBody();
  return new ParleyError(isStoreUnavailableError(err) ? 'unavailable' : 'internal').toBody();
}

/** Waits for the socket to take more, or to be gone (a closed socket never drains). */
function drainedOrClosed(out: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      out.off('drain', done);
      out.off('close', done);
      resolve();
    };
    out.on('drain', done);
    out.on('close', done);
  });
}

/**
 * Where the feed starts: an EventSource's Last-Event-ID when it is a cursor of this log
 * (anything else there is ignored, as a browser may send what it kept from another
 * server), else `from`, which must be one (a coded `invalid_request` if not).
 */
function startingCursor(store: EventStore, request: FastifyRequest<{ Querystring: FeedQuery }>): LogCursor {
  const lastEventId = request.headers['last-event-id'];
  if (typeof lastEventId === 'string' && lastEventId !== '' && lastEventId !== '0') {
    try {
      return cursorFor(store, lastEventId);
    } catch {
      // falls back to `from`
    }
  }
  try {
    return cursorFor(store, request.query.from ?? '0');
  } catch (err) {
    if (isInvalidCursorError(err)) throw new ParleyError('invalid_request', `from: ${err.message}`);
    throw err;
  }
}
