/**
 * Free loopback ports for launchers that take a base port and use the ones after it
 * (`parley cluster --base-port`, `--nats-base-port`): a random base whose whole range is
 * free right now, below the kernel's ephemeral range. A port inside that range can be
 * handed to any outgoing connection (other test files run alongside) or to a server
 * asking for port 0 between our check and the node's listen; below it, only an explicit
 * bind takes it.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const isFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });

/** The first port the kernel hands out for port 0 and outgoing connections (Linux; else 32768). */
function ephemeralStart(): number {
  try {
    const first = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(first) && first > 12_000 ? first : 32_768;
  } catch {
    return 32_768;
  }
}

/** A base port whose `count` ports from it are all free. */
export async function freePortRange(count: number): Promise<number> {
  const low = 10_000;
  const high = ephemeralStart() - count;
  for (;;) {
    const base = low + Math.floor(Math.random() * (high - low));
    let ok = true;
    for (let i = 0; i < count && ok; i++) ok = await isFree(base + i);
    if (ok) return base;
  }
}
