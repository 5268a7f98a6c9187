/**
 * `parley repartition --to M`: changes the partition count of a cluster's log by copying
 * it into a new generation of streams while it serves, then switching
 * (engine/store/jetstream/repartition.ts). Prints progress to stderr, and at the switch
 * the new log's head cursor and what the operator does next.
 */
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { clusterLogOptions, natsSecurity } from '../cluster/index.js';
import { loadConfig } from '../node/config/index.js';
import { MAX_PARTITIONS } from '../store/index.js';
import { repartition as repartitionLog, type RepartitionProgress } from '../store/jetstream/index.js';
import { integerFlag, UsageError } from './usage-error.js';

const HELP = `usage: parley repartition --to M [--nats URLS] [--switch-lag N]

Changes how many JetStream streams (partitions) the cluster's log is split into. The log
(PARLEY_STREAM at --nats / NATS_URL) is copied into a new generation of M streams while
the nodes keep serving it; once the copy is at most --switch-lag messages behind
(default 100), or a pass gains nothing on the appends, the switch: nodes refuse appends
with a retryable "unavailable" (clients retry), the old streams are sealed, the copy
drains, and the log pointer moves to the new generation. Then restart every node with PARLEY_PARTITIONS=M: each opens the new
generation and its read models rebuild from it (positions differ). The old streams stay
until you remove them (after \`parley verify\`).

Safe to run again after it was stopped or killed: it resumes where it got to and copies
nothing twice. Prints the new log's head cursor at the switch: a consumer that had read
the old log to its end resumes from it.
`;

export async function repartition(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      to: { type: 'string' },
      nats: { type: 'string' },
      'switch-lag': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) return void process.stdout.write(HELP);
  const to = integerFlag('to', values.to);
  if (to === undefined || to < 1 || to > MAX_PARTITIONS) throw new UsageError(`--to must be a partition count from 1 to ${MAX_PARTITIONS}`);
  const switchLag = integerFlag('switch-lag', values['switch-lag']);
  const urls = values.nats ?? process.env.NATS_URL;
  if (!urls) throw new UsageError('the log is in NATS JetStream: give --nats URLS or NATS_URL');
  // Only the log settings matter; a fixed secret and id keep the CLI from creating files.
  const config = loadConfig({ ...process.env, NATS_URL: urls }, { dataDir: tmpdir(), jwtSecret: 'ops-cli-needs-no-secret-000000', nodeId: 'cli' });
  const base = clusterLogOptions({ ...config, nodeId: 'repartition' }, natsSecurity(config), 1, () => undefined);
  const result = await repartitionLog({ base, to, ...(switchLag !== undefined && { switchLag }), onProgress: progressLine() });
  process.stdout.write(
    `switched: ${config.streamName} generation ${result.to.generation} (${result.to.partitions} partition(s)) is live; ` +
      `was generation ${result.from.generation} (${result.from.partitions})\n` +
      `copied ${result.copied} envelope(s), ${result.skipped} skipped (copied before, or at a taken seq)\n` +
      `head cursor: ${result.headCursor}\n` +
      `next: restart every node with PARLEY_PARTITIONS=${result.to.partitions}; the old streams stay until you remove them\n`,
  );
}

/** A progress line per report, to stderr (stdout carries the result). */
function progressLine(): (p: RepartitionProgress) => void {
  return (p) => process.stderr.write(`${p.phase}: ${p.done} message(s) done, ${p.behind} behind\n`);
}
