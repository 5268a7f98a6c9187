/**
 * `parley <command>`: serve, token, rebuild and the ops tools (replay, tail, export,
 * import, stats, verify, repartition). Each command has --help. Flags map onto the same names as the
 * environment (see README, Configuration). Exit codes: 0 done, 1 failed, 2 usage error.
 */
import { parseArgs } from 'node:util';
import { isUsageError } from './usage-error.js';

type Run = (args: string[]) => Promise<void>;

// Each command is imported when it runs, so `parley --help` or `parley token` does not load
// Fastify, NATS, SQLite and Yjs for nothing.
const COMMANDS: Record<string, { summary: string; load: () => Promise<Run> }> = {
  serve: { summary: 'Run a node (PORT, DATA_DIR, PARLEY_JWT_SECRET, …)', load: async () => (await import('./serve.js')).serve },
  token: { summary: 'Print a bearer token for a user: parley token <userId> [--ttl 24h] [--admin]', load: async () => (await import('./token.js')).token },
  rebuild: { summary: 'Drop and rebuild read models from the log: parley rebuild [projection…]', load: async () => (await import('./rebuild.js')).rebuild },
  replay: { summary: 'Print or re-project events of the log or a conversation; time travel with --at', load: async () => (await import('./replay.js')).replay },
  tail: { summary: 'Follow the live event feed of a node, filtered (admin token)', load: async () => (await import('./tail.js')).tail },
  export: { summary: 'Write the log and idempotency records as NDJSON: parley export [--out FILE]', load: async () => (await import('./export.js')).exportLog },
  import: { summary: 'Load an export into an empty store: parley import [--in FILE]', load: async () => (await import('./import.js')).importLog },
  stats: { summary: 'Streams, events per type, file sizes, head position, read-model lag', load: async () => (await import('./stats.js')).stats },
  verify: { summary: 'Check dense seqs, positions, and read models against a fresh replay', load: async () => (await import('./verify.js')).verify },
  skip: { summary: 'Make one read model pass over a poison event: parley skip --projection NAME --position N', load: async () => (await import('./skip.js')).skip },
  repartition: { summary: "Change the log's partition count by a copy while it serves: parley repartition --to M", load: async () => (await import('./repartition.js')).repartition },
  cluster: { summary: 'Start a local cluster: 3 NATS JetStream servers and N nodes (parley cluster --nodes 3)', load: async () => (await import('./cluster.js')).cluster },
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
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  for (const [n, c] of Object.entries(COMMANDS)) out.write(`  ${n.padEnd(width)}  ${c.summary}\n`);
  process.exitCode = out === process.stderr ? 2 : 0;
} else {
  command
    .load()
    .then((run) => run(rest))
    .catch((err: Error & { code?: string }) => {
      if (isUsageError(err)) {
        process.stderr.write(`parley ${name}: ${err.message}\nsee: parley ${name} --help\n`);
        process.exitCode = 2;
        return;
      }
      process.stderr.write(`parley ${name}: ${err.message}${err.code ? ` (${err.code})` : ''}\n`);
      process.exitCode = 1;
    });
}
