import { parseArgs } from 'node:util';
import { signToken } from '../node/auth/index.js';
import { loadConfig } from '../node/config/index.js';

const HELP = `usage: parley token <userId> [--ttl 24h] [--admin] [--data-dir DIR]

Prints a bearer token (JWT, HS256) for the user, signed with PARLEY_JWT_SECRET (or the
development secret in DATA_DIR). --ttl takes s, m, h or d (default: 30d).
`;

export async function token(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { ttl: { type: 'string', default: '30d' }, admin: { type: 'boolean' }, 'data-dir': { type: 'string' }, help: { type: 'boolean' } },
  });
  const userId = positionals[0];
  if (values.help || !userId) {
    process.stdout.write(HELP);
    if (!values.help) process.exitCode = 2;
    return;
  }
  const config = loadConfig(process.env, values['data-dir'] ? { dataDir: values['data-dir'] } : {});
  if (config.auth.keySource.kind !== 'secret') {
    // The node would refuse what this prints: it accepts only the identity provider's tokens.
    throw new Error('this node verifies tokens from your identity provider (PARLEY_JWKS_URL or PARLEY_JWT_PUBLIC_KEY_FILE), not HS256 tokens: get one from the provider');
  }
  const ttlSeconds = parseDuration(values.ttl!);
  process.stdout.write(`${signToken(config.jwtSecret, { sub: userId, ttlSeconds, role: values.admin ? 'admin' : undefined })}\n`);
}

function parseDuration(s: string): number {
  const m = /^(\d+)([smhd])$/.exec(s);
  if (!m) throw new Error(`--ttl must look like 90s, 15m, 24h or 30d, got "${s}"`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's' | 'm' | 'h' | 'd'];
}
