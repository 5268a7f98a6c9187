/**
 * The follow loop of `parley tail`: reads a node's admin event feed (`GET /v1/admin/feed`,
 * NDJSON, one event per line) and hands each event on. When the connection drops it
 * reconnects with backoff from the log cursor after the last event handed on (its
 * position on an unpartitioned log), and skips anything that cursor covers, so nothing
 * is handed on twice and nothing is skipped. A refusal the node will repeat (401, 403,
 * 404, another 4xx) ends it with an error; so does a feed the node ends with an error
 * line (a failed read) when `once`, else it resumes like after a drop.
 */
import { backoffDelay, LogCursor, type StoredEvent } from '../store/index.js';
import type { TailOptions } from './tail-args.js';

/** Pauses between reconnects: from 250 ms up to 5 s, jittered so tails do not come back together. */
const RETRY = { initialMs: 250, maxMs: 5000, jitter: 'equal' } as const;

export interface FollowResult {
  /** The log cursor after the last event handed on (or `from` when none was): a position on an unpartitioned log. */
  last: string | undefined;
  reconnects: number;
}

/**
 * Follows the feed until `signal` aborts (or, with `once`, until the feed ends), calling
 * `onEvent` with each event and its line, in position order, each once.
 */
export async function followFeed(
  options: TailOptions,
  signal: AbortSignal,
  onEvent: (line: string, e: StoredEvent) => Promise<void>,
): Promise<FollowResult> {
  const { base, once } = options;
  let last = options.from;
  let reconnects = 0;
  let retry = 0;
  while (!signal.aborted) {
    let res: Response;
    try {
      res = await fetch(feedUrl(options, last), { headers: { authorization: `Bearer ${options.token}` }, signal });
    } catch (err) {
      if (signal.aborted) break;
      if (once) throw new Error(`cannot reach ${base}: ${(err as Error).message}`);
      const delay = backoffDelay(retry++, RETRY);
      process.stderr.write(`parley tail: cannot reach ${base} (${(err as Error).message}); retrying in ${(delay / 1000).toFixed(1)} s\n`);
      await sleep(delay, signal);
      reconnects += 1;
      continue;
    }
    if (res.status === 401 || res.status === 403) throw new Error(`the node refused the token (${res.status}): tail needs an admin token (npx parley token ops --admin)`);
    if (res.status === 404) throw new Error(`${base} has no event feed (GET /v1/admin/feed answered 404)`);
    if (res.status >= 400 && res.status < 500) throw new Error(`the node refused the request (${res.status}): ${(await res.text()).slice(0, 500)}`);
    if (!res.ok || !res.body) {
      process.stderr.write(`parley tail: the node answered ${res.status}; retrying\n`);
      await sleep(backoffDelay(retry++, RETRY), signal);
      reconnects += 1;
      continue;
    }
    try {
      for await (const line of lines(res.body)) {
        retry = 0;
        const e = JSON.parse(line) as StoredEvent & { cursor?: string; error?: { code?: unknown; message?: unknown } };
        // The node's read failed mid-stream: it says so in a last line instead of an event.
        if (e.error) throw new Error(`the node ended the feed with ${String(e.error.code)}: ${String(e.error.message)}`);
        // The feed may start at `from` inclusive; whatever it resends is skipped here.
        if (last !== undefined && covered(last, e)) continue;
        // A partitioned log's lines carry the cursor after them; otherwise it is the position.
        last = typeof e.cursor === 'string' ? e.cursor : String(e.position);
        await onEvent(line, e);
        if (signal.aborted) break;
      }
    } catch (err) {
      if (signal.aborted) break;
      if (once) throw err;
      process.stderr.write(`parley tail: feed interrupted (${(err as Error).message}); resuming after position ${last ?? 'start'}\n`);
    }
    if (once || signal.aborted) break;
    await sleep(backoffDelay(retry++, RETRY), signal);
    reconnects += 1;
  }
  return { last, reconnects };
}

/** Whether the cursor `last` already covers `e` (a cursor of another shape covers nothing). */
function covered(last: string, e: StoredEvent & { cursor?: string }): boolean {
  try {
    const cursor = LogCursor.parse(last);
    const partitions = typeof e.cursor === 'string' ? LogCursor.parse(e.cursor).partitions : 1;
    return cursor.partitions === partitions && cursor.covers(e.position);
  } catch {
    return false;
  }
}

/** The feed's URL, resuming after `last`. */
function feedUrl(options: TailOptions, last: string | undefined): string {
  const query = new URLSearchParams();
  if (last !== undefined) query.set('from', last);
  if (options.conversation) query.set('conversation', options.conversation);
  if (options.types && options.types.length > 0) query.set('types', options.types.join(','));
  query.set('follow', options.once ? 'false' : 'true');
  return `${options.base}/v1/admin/feed?${query}`;
}

/** Lines of an NDJSON body, as they arrive. */
async function* lines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (line !== '') yield line;
    }
  }
  buffer += decoder.decode();
  if (buffer.trim() !== '') yield buffer.trim();
}

/** Waits `ms`, or less if `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
