/**
 * Free loopback ports for the servers tests start (nats-server members) and for launchers
 * that take a base port and use the ones after it (`parley cluster --base-port`,
 * `--nats-base-port`): chosen at random below the kernel's ephemeral range, where only an
 * explicit bind takes a port. A port inside that range can be handed to any outgoing
 * connection (other test files run alongside) or to a server asking for port 0 between
 * our check and the server's listen, and a dial to such a port that nobody listens on
 * yet (a cluster member dialling a route to a peer still starting) can even connect to
 * itself when the kernel picks the same port as its local end.
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

const LOWEST = 10_000;
/** Ports this process has handed out: never handed out twice (two servers of one test asking). */
const handedOut = new Set<number>();

/** A base port whose `count` ports from it are all free. */
export async function freePortRange(count: number): Promise<number> {
  const high = ephemeralStart() - count;
  for (;;) {
    const base = LOWEST + Math.floor(Math.random() * (high - LOWEST));
    let ok = true;
    for (let i = 0; i < count && ok; i++) ok = !handedOut.has(base + i) && (await isFree(base + i));
    if (!ok) continue;
    for (let i = 0; i < count; i++) handedOut.add(base + i);
    return base;
  }
}

/** One free port below the ephemeral range (see the top of this file for why below). */
export async function freePort(): Promise<number> {
  return freePortRange(1);
}
