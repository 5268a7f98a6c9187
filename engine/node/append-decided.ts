/**
 * Decide against the conversation's cached state, apply the events to it at once and
 * append with the version decided on; on a conflict (another node wrote) the state is
 * dropped and the command decided again after a jittered pause, or at once for an urgent
 * one (urgent-append.ts).
 */
import { ParleyError, type ConversationEventData } from '../../protocol/index.js';
import { evolve, redactionPatches, toNewEvents, type ConversationState } from '../domain/index.js';
import { backoffDelay, conversationStream, isConcurrencyError, isStoreUnavailableError } from '../store/index.js';
import { appendOptionsOf, stampedWith, type AppendContext, type AppendMeta, type Appended, type CommandIdempotency, type DecidedEvent } from './decided-events.js';
import { appendUrgently } from './urgent-append.js';

const MAX_ATTEMPTS = 8;
/** Pauses before deciding again after a conflict: anywhere in a window doubling from 2 ms, so racing writers spread out. */
const CONFLICT_RETRY = { initialMs: 1, maxMs: 128, jitter: 'full' } as const;

/** Appends what `decideEvents` decides, retrying on conflict; `idempotency` keys a command's events. */
export async function decideAndAppend(
  ctx: AppendContext,
  conversationId: string,
  meta: AppendMeta,
  decideEvents: (state: ConversationState) => DecidedEvent[],
  idempotency?: CommandIdempotency,
): Promise<Appended> {
  const stream = conversationStream(conversationId);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    // Another node is writing this conversation: back off a little (jittered) so the
    // writers stop colliding, instead of burning the attempts back to back.
    if (attempt > 0) await new Promise((r) => setTimeout(r, backoffDelay(attempt, CONFLICT_RETRY)));
    const state = await ctx.states.load(stream);
    const before = state.version;
    const decided = decideEvents(state);
    // Asked before the events apply: the state then still says where the content is.
    const patches = redactionPatches(state, decided as ConversationEventData[]);
    const at = Date.now();
    for (const e of decided) evolve(state, e as ConversationEventData, at);
    const after = state.version;
    const record = idempotency?.recordOf(after, decided);
    const events = toNewEvents(decided, stampedWith(meta, at));
    const started = performance.now();
    try {
      const appended = await ctx.store.append(stream, events, appendOptionsOf(before, decided, record, idempotency?.legacyKey, patches));
      ctx.metrics.appendSeconds.observe((performance.now() - started) / 1000);
      if (appended.duplicate) {
        if (decided.length > 0) ctx.states.forget(stream);
        return { version: appended.version, events: [], duplicate: appended.duplicate };
      }
      ctx.metrics.eventsAppended.inc(appended.events.length);
      ctx.wrote(appended.events);
      return { version: after, events: appended.events, record, duplicate: null };
    } catch (err) {
      ctx.states.forget(stream);
      if (isConcurrencyError(err)) {
        // A conflict is also what an append gets when it was queued behind a repeat of an
        // earlier command (decided as new, then found a duplicate): a client resending its
        // whole outbox after a restart fills the pipeline with those. Asking for the key
        // here answers each repeat after one round instead of letting them take down the
        // new commands behind them until those run out of attempts.
        const prior = idempotency && (await idempotency.findPrior());
        if (prior) return { version: before, events: [], duplicate: prior };
        ctx.metrics.commandConflicts.inc({ type: idempotency?.label ?? 'sync' });
        if (idempotency?.urgent) return appendUrgently(ctx, stream, meta, decideEvents, idempotency);
        continue;
      }
      if (isStoreUnavailableError(err)) throw new ParleyError('unavailable', undefined, { cause: err });
      throw err;
    }
  }
  throw new ParleyError('conflict');
}
