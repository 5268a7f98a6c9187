/** The last lines of every node's and nats-server's log in a `parley cluster` data dir, for a failure message. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export function clusterLogs(dataDir: string, lines = 15): string {
  if (!existsSync(dataDir)) return '';
  const files = readdirSync(dataDir)
    .filter((d) => /^(node|nats)-\d+$/.test(d))
    .map((d) => join(dataDir, d, d.startsWith('node') ? 'parley.log' : 'server.log'))
    .filter((f) => existsSync(f));
  return files.map((f) => `\n${f}:\n${readFileSync(f, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')}`).join('');
}
