/**
 * `parley tail`: follows a node's admin event feed (`GET /v1/admin/feed`, NDJSON, one event
 * per line) and prints it, filtered by conversation and event type. When the connection
 * drops it reconnects with backoff from the last position it printed, and skips anything
 * at or before that position, so nothing is printed twice and nothing is skipped.
 */
import { parseArgs } from 'node:util';
import { backoffDelay, type StoredEvent } from '../store/index.js';
import { writeLine } from './progress.js';
import { integerFlag, UsageError } from './usage-error.js';

const HELP = `usage: parley tail [--url http://host:port] [--token T] [--conversation ID] [--type A,B]
                  [--from POSITION] [--count N] [--once] [--format ndjson|text]

Follows the live event feed of a node (admin token required: npx parley token ops --admin)
and prints each event: NDJSON {position,stream,seq,id,type,data,metadata} by default, or one
readable line with --format text.
  --url           the node (default: PARLEY_URL or http://localhost:8080)
  --token         an admin bearer token (default: PARLEY_TOKEN)
  --conversation  only this conversation's events
  --type          only these event types, comma-separated (MessagePosted,MessageDeleted)
  --from          start after this global position (default: 0, the whole log, then live)
  --count         exit after printing N events
  --once          print what is there and exit instead of following
Reconnects with backoff when the connection drops, resuming after the last position
printed. Stops on Ctrl-C with a summary on stderr.
`;

/** Pauses between reconnects: from 250 ms up to 5 s, jittered so tails do not come back together. */
const RETRY = { initialMs: 250, maxMs: 5000, jitter: 'equal' } as const;

export async function tail(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      conversation: { type: 'string', short: 'c' },
      type: { type: 'string', short: 't' },
      from: { type: 'string' },
      count: { type: 'string', short: 'n' },
      once: { type: 'boolean' },
      format: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void process.stdout.write(HELP);
  const base = (values.url ?? process.env.PARLEY_URL ?? 'http://localhost:8080').replace(/\/+$/, '');
  try {
    new URL(base);
  } catch {
    throw new UsageError(`--url must be a URL such as http://localhost:8080, got "${base}"`);
  }
  const token = values.token ?? process.env.PARLEY_TOKEN;
  if (!token) throw new UsageError('an admin token is required: --token T or PARLEY_TOKEN (make one with: npx parley token ops --admin)');
  const format = values.format ?? 'ndjson';
  if (format !== 'ndjson' && format !== 'text') throw new UsageError(`--format must be ndjson or text, got "${format}"`);
  const types = values.type?.split(',').map((t) => t.trim()).filter(Boolean);
  const limit = integerFlag('count', values.count);
  let last = integerFlag('from', values.from);

  const stopper = new AbortController();
  let printed = 0;
  let reconnects = 0;
  const onSignal = () => stopper.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    let retry = 0;
    while (!stopper.signal.aborted) {
      const query = new URLSearchParams();
      if (last !== undefined) query.set('from', String(last));
      if (values.conversation) query.set('conversation', values.conversation);
      if (types && types.length > 0) query.set('types', types.join(','));
      query.set('follow', values.once ? 'false' : 'true');
      let res: Response;
      try {
        res = await fetch(`${base}/v1/admin/feed?${query}`, { headers: { authorization: `Bearer ${token}` }, signal: stopper.signal });
      } catch (err) {
        if (stopper.signal.aborted) break;
        if (values.once) throw new Error(`cannot reach ${base}: ${(err as Error).message}`);
        const delay = backoffDelay(retry++, RETRY);
        process.stderr.write(`parley tail: cannot reach ${base} (${(err as Error).message}); retrying in ${(delay / 1000).toFixed(1)} s\n`);
        await sleep(delay, stopper.signal);
        reconnects += 1;
        continue;
      }
      if (res.status === 401 || res.status === 403) throw new Error(`the node refused the token (${res.status}): tail needs an admin token (npx parley token ops --admin)`);
      if (res.status === 404) throw new Error(`${base} has no event feed (GET /v1/admin/feed answered 404)`);
      if (res.status >= 400 && res.status < 500) throw new Error(`the node refused the request (${res.status}): ${(await res.text()).slice(0, 500)}`);
      if (!res.ok || !res.body) {
        process.stderr.write(`parley tail: the node answered ${res.status}; retrying\n`);
        await sleep(backoffDelay(retry++, RETRY), stopper.signal);
        reconnects += 1;
        continue;
      }
      try {
        for await (const line of lines(res.body)) {
          retry = 0;
          const e = JSON.parse(line) as StoredEvent;
          // The feed may start at `from` inclusive; whatever it resends is skipped here.
          if (last !== undefined && e.position <= last) continue;
          last = e.position;
          await writeLine(process.stdout, format === 'text' ? textLine(e) : line);
          printed += 1;
          if (limit !== undefined && printed >= limit) {
            stopper.abort();
            break;
          }
        }
      } catch (err) {
        if (stopper.signal.aborted) break;
        if (values.once) throw err;
        process.stderr.write(`parley tail: feed interrupted (${(err as Error).message}); resuming after position ${last ?? 'start'}\n`);
      }
      if (values.once || stopper.signal.aborted) break;
      await sleep(backoffDelay(retry++, RETRY), stopper.signal);
      reconnects += 1;
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  // stdout carries the events, so the summary goes to stderr.
  process.stderr.write(`tailed ${printed} events from ${base}${last !== undefined ? `, last position ${last}` : ''}${reconnects > 0 ? `, ${reconnects} reconnects` : ''}\n`);
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

function textLine(e: StoredEvent): string {
  return `#${e.position} ${e.stream} seq ${e.seq} ${new Date(e.metadata.at).toISOString()} ${e.type} by ${e.metadata.actor} ${JSON.stringify(e.data)}`;
}
