/** `parley tail`'s command line: its flags, their defaults from the environment, and its help. */
import { parseArgs } from 'node:util';
import { LogCursor } from '../store/index.js';
import { integerFlag, UsageError } from './usage-error.js';

export const TAIL_HELP = `usage: parley tail [--url http://host:port] [--token T] [--conversation ID] [--type A,B]
                  [--from POSITION|CURSOR] [--count N] [--once] [--format ndjson|text]

Follows the live event feed of a node (admin token required: npx parley token ops --admin)
and prints each event: NDJSON {position,stream,seq,id,type,data,metadata} by default, or one
readable line with --format text.
  --url           the node (default: PARLEY_URL or http://localhost:8080)
  --token         an admin bearer token (default: PARLEY_TOKEN)
  --conversation  only this conversation's events
  --type          only these event types, comma-separated (MessagePosted,MessageDeleted)
  --from          start after this position, or after a partitioned log's cursor token
                  (a line's "cursor"); default: 0, the whole log, then live
  --count         exit after printing N events
  --once          print what is there and exit instead of following
Reconnects with backoff when the connection drops, resuming after the last position
printed. Stops on Ctrl-C with a summary on stderr.
`;

export type TailFormat = 'ndjson' | 'text';

export interface TailOptions {
  /** The node's base URL, without a trailing slash. */
  base: string;
  token: string;
  conversation?: string;
  types?: string[];
  /** Print only events after this log cursor (a position on an unpartitioned log). */
  from?: string;
  /** Stop after printing this many events. */
  count?: number;
  /** Print what is there and stop instead of following. */
  once: boolean;
  format: TailFormat;
}

/** The options, or 'help' when help was asked for; a UsageError for a bad flag. */
export function parseTailArgs(args: string[], env: NodeJS.ProcessEnv = process.env): TailOptions | 'help' {
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
  if (values.help) return 'help';
  const base = (values.url ?? env.PARLEY_URL ?? 'http://localhost:8080').replace(/\/+$/, '');
  try {
    new URL(base);
  } catch {
    throw new UsageError(`--url must be a URL such as http://localhost:8080, got "${base}"`);
  }
  const token = values.token ?? env.PARLEY_TOKEN;
  if (!token) throw new UsageError('an admin token is required: --token T or PARLEY_TOKEN (make one with: npx parley token ops --admin)');
  const format = values.format ?? 'ndjson';
  if (format !== 'ndjson' && format !== 'text') throw new UsageError(`--format must be ndjson or text, got "${format}"`);
  return {
    base,
    token,
    conversation: values.conversation,
    types: values.type?.split(',').map((t) => t.trim()).filter(Boolean),
    count: integerFlag('count', values.count),
    from: cursorFlag(values.from),
    once: values.once ?? false,
    format,
  };
}

/** `--from`: a position, or the cursor token a partitioned log's feed gives (`c1.…`). */
function cursorFlag(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  try {
    LogCursor.parse(raw);
    return raw;
  } catch {
    throw new UsageError(`--from must be a position (a non-negative integer) or a cursor token from the feed, got "${raw.slice(0, 100)}"`);
  }
}
