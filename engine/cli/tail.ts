/**
 * `parley tail`: follows a node's admin event feed and prints it, filtered by conversation
 * and event type, resuming after the last position printed when the connection drops.
 * The command line is in tail-args.ts, the follow loop in tail-follow.ts, the output in
 * tail-format.ts.
 */
import { parseTailArgs, TAIL_HELP } from './tail-args.js';
import { followFeed } from './tail-follow.js';
import { formatEvent, summaryLine } from './tail-format.js';
import { writeLine } from './progress.js';

export async function tail(args: string[]): Promise<void> {
  const options = parseTailArgs(args);
  if (options === 'help') return void process.stdout.write(TAIL_HELP);

  const stopper = new AbortController();
  let printed = 0;
  const onSignal = () => stopper.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const result = await followFeed(options, stopper.signal, async (line, e) => {
    await writeLine(process.stdout, formatEvent(options.format, line, e));
    printed += 1;
    if (options.count !== undefined && printed >= options.count) stopper.abort();
  }).finally(() => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  });
  // stdout carries the events, so the summary goes to stderr.
  process.stderr.write(summaryLine(printed, options.base, result.last, result.reconnects));
}
