/**
 * `parley <command>`: serve, token, rebuild and the ops tools (replay, tail, export,
 * import, stats, verify). Each command has --help. Flags map onto the same names as the
 * environment (see README, Configuration). Exit codes: 0 done, 1 failed, 2 usage error.
 */
import { parseArgs } from 'node:util';
import { cluster } from './cluster.js';
import { exportLog } from './export.js';
import { importLog } from './import.js';
import { rebuild } from './rebuild.js';
import { replay } from './replay.js';
import { serve } from './serve.js';
import { skip } from './skip.js';
import { stats } from './stats.js';
import { tail } from './tail.js';
import { token } from './token.js';
import { isUsageError } from './usage-error.js';
import { verify } from './verify.js';

const COMMANDS: Record<string, { summary: string; run: (args: string[]) => Promise<void> }> = {
  serve: { summary: 'Run a node (PORT, DATA_DIR, PARLEY_JWT_SECRET, …)', run: serve },
  token: { summary: 'Print a bearer token for a user: parley token <userId> [--ttl 24h] [--admin]', run: token },
  rebuild: { summary: 'Drop and rebuild read models from the log: parley rebuild [projection…]', run: rebuild },
  replay: { summary: 'Print or re-project events of the log or a conversation; time travel with --at', run: replay },
  tail: { summary: 'Follow the live event feed of a node, filtered (admin token)', run: tail },
  export: { summary: 'Write the log and idempotency records as NDJSON: parley export [--out FILE]', run: exportLog },
  import: { summary: 'Load an export into an empty store: parley import [--in FILE]', run: importLog },
  stats: { summary: 'Streams, events per type, file sizes, head position, read-model lag', run: stats },
  verify: { summary: 'Check dense seqs, positions, and read models against a fresh replay', run: verify },
  skip: { summary: 'Make one read model pass over a poison event: parley skip --projection NAME --position N', run: skip },
  cluster: { summary: 'Start a local cluster: 3 NATS JetStream servers and N nodes (parley cluster --nodes 3)', run: cluster },
};

// `parley replay | head`: a reader that stops early is not an error.
process.stdout.on('error', (err: Error & { code?: string }) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

const [name, ...rest] = process.argv.slice(2);
const command = name && Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined; // `parley constructor` is no command
if (!command) {
  const { values } = parseArgs({ args: rest, options: { help: { type: 'boolean' } }, strict: false });
  const out = name && name !== '--help' && !values.help ? process.stderr : process.stdout;
  out.write(`usage: parley <command> [options]\n\n`);
  for (const [n, c] of Object.entries(COMMANDS)) out.write(`  ${n.padEnd(10)} ${c.summary}\n`);
  process.exitCode = out === process.stderr ? 2 : 0;
} else {
  command.run(rest).catch((err: Error & { code?: string }) => {
    if (isUsageError(err)) {
      process.stderr.write(`parley ${name}: ${err.message}\nsee: parley ${name} --help\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`parley ${name}: ${err.message}${err.code ? ` (${err.code})` : ''}\n`);
    process.exitCode = 1;
  });
}
