/**
 * `parley <command>`: serve, token, rebuild. Each command has --help. Flags map onto the
 * same names as the environment (see README, Configuration).
 */
import { parseArgs } from 'node:util';
import { rebuild } from './rebuild.js';
import { serve } from './serve.js';
import { token } from './token.js';

const COMMANDS: Record<string, { summary: string; run: (args: string[]) => Promise<void> }> = {
  serve: { summary: 'Run a node (PORT, DATA_DIR, PARLEY_JWT_SECRET, …)', run: serve },
  token: { summary: 'Print a bearer token for a user: parley token <userId> [--ttl 24h] [--admin]', run: token },
  rebuild: { summary: 'Drop and rebuild read models from the log: parley rebuild [projection…]', run: rebuild },
};

const [name, ...rest] = process.argv.slice(2);
const command = name ? COMMANDS[name] : undefined;
if (!command) {
  const { values } = parseArgs({ args: rest, options: { help: { type: 'boolean' } }, strict: false });
  const out = name && name !== '--help' && !values.help ? process.stderr : process.stdout;
  out.write(`usage: parley <command> [options]\n\n`);
  for (const [n, c] of Object.entries(COMMANDS)) out.write(`  ${n.padEnd(10)} ${c.summary}\n`);
  process.exitCode = out === process.stderr ? 2 : 0;
} else {
  command.run(rest).catch((err: Error & { code?: string }) => {
    process.stderr.write(`parley ${name}: ${err.message}${err.code ? ` (${err.code})` : ''}\n`);
    process.exitCode = 1;
  });
}
