/**
 * Draining: how a node leaves a load balancer's rotation without losing work. On SIGTERM
 * (shutdown.ts) the node first only says so — `/ready` answers 503 while it keeps serving,
 * for PARLEY_DRAIN_SECONDS, so the balancer stops sending new work — and then refuses new
 * requests (503 `unavailable`, connection closed) and sockets (close 4503), lets the
 * requests and commands already in flight finish, and only then closes its parts.
 *
 * Probes (`/health`, `/ready`, `/metrics`) are answered to the end: a balancer must see
 * "not ready", not a refused connection it might retry against.
 */
import type { FastifyInstance } from 'fastify';
import { ParleyError } from '../../protocol/index.js';

const PROBES = new Set(['/health', '/ready', '/metrics']);
/** The one upgrade that is refused after it completes (close 4503, which a browser can read): the gateway does it. */
const GATEWAY_PATH = '/v1/ws';

export class Drain {
  private phase: 'serving' | 'draining' | 'refusing' = 'serving';
  /** HTTP requests being answered (WebSocket upgrades are the gateway's). */
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];

  /** True from `begin()` on: `/ready` answers 503. */
  get draining(): boolean {
    return this.phase !== 'serving';
  }

  /** True from `refuseNew()` on: new requests and sockets are turned away. */
  get refusing(): boolean {
    return this.phase === 'refusing';
  }

  begin(): void {
    if (this.phase === 'serving') this.phase = 'draining';
  }

  refuseNew(): void {
    this.phase = 'refusing';
  }

  /** Counts `app`'s requests in flight and, once refusing, turns new ones away. Add it before the routes. */
  install(app: FastifyInstance): void {
    app.addHook('onRequest', async (request, reply) => {
      const path = request.url.split('?')[0]!;
      if (request.headers.upgrade !== undefined) {
        // Other upgrades (the document sync) are refused before they complete: 503, and the client's provider retries elsewhere.
        if (this.refusing && path !== GATEWAY_PATH) throw new ParleyError('unavailable', 'This node is shutting down; try again (another node)');
        return;
      }
      if (this.refusing && !PROBES.has(path)) {
        reply.header('connection', 'close');
        throw new ParleyError('unavailable', 'This node is shutting down; try again (another node)');
      }
      this.inFlight += 1;
      // 'close' comes once per response, sent or aborted, so the count cannot drift.
      reply.raw.once('close', () => {
        this.inFlight -= 1;
        if (this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
      });
    });
  }

  /** Resolves once no request is in flight, or after `timeoutMs` (streams such as the admin feed never end by themselves). */
  async idle(timeoutMs: number): Promise<void> {
    if (this.inFlight === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.idleWaiters.push(resolve);
      timer = setTimeout(resolve, timeoutMs);
    });
    clearTimeout(timer);
  }
}
