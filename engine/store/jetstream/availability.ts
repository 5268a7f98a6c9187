/**
 * The bounded retry budget: NATS calls that fail because the server is unreachable, has
 * no JetStream responder yet (leader election in a cluster) or did not answer in time are
 * retried with backoff until the budget is spent, then become StoreUnavailableError. So an
 * append never hangs forever, while a short blip (reconnect, leader change) is absorbed.
 *
 * Retrying a publish is safe because every append carries a `Nats-Msg-Id`: if the first
 * attempt was stored and only its ack was lost, the retry is answered as a duplicate.
 */
import { backoffDelay } from '../backoff.js';
import { StoreUnavailableError } from '../errors.js';

const RETRY = { initialMs: 50, maxMs: 1000 };

const TRANSIENT_NAMES = new Set([
  'TimeoutError',
  'NoRespondersError',
  'NoResponders',
  'RequestError',
  'JetStreamNotEnabled',
  'ConnectionError',
]);

/** True for failures that say "not reachable right now" rather than "refused". */
export function isTransient(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (TRANSIENT_NAMES.has(err.name)) return true;
  // JetStream answers 503 while a stream or meta leader is being elected.
  const status = (err as { status?: unknown }).status;
  if (status === 503) return true;
  return /timeout|no responders|temporarily unavailable|no suitable peers/i.test(err.message);
}

export async function withRetryBudget<T>(what: string, budgetMs: number, attempt: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + budgetMs;
  for (let retry = 0; ; retry++) {
    try {
      return await attempt();
    } catch (err) {
      if (!isTransient(err)) throw err;
      const delay = backoffDelay(retry, RETRY);
      if (Date.now() + delay > deadline) {
        throw new StoreUnavailableError(`${what}: NATS unavailable for ${budgetMs} ms`, { cause: err });
      }
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
