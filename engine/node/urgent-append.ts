/**
 * Moderation must not starve. Under a flood, the flooders' posts kept winning the race for
 * the stream: a ban that conflicted reloaded the whole conversation, backed off, and found
 * it stale again (20 bans took 142 HTTP requests of up to 8 attempts each on 3 nodes). A
 * moderator's command (URGENT) that loses a race is instead decided again at once, up to
 * 32 times in one request, against a private copy of the state caught up with only the
 * events it missed, not the whole log; posts keep their jittered back-off. That cut the
 * requests (27 to 57 in three runs) but not the appends: each re-decision still reads the
 * missed events, a window in which a flood lands another post (README, "Roles and
 * moderation"). Deciders are pure and the command id makes the append idempotent, so
 * deciding again is always safe.
 */
import { ParleyError, type Command, type ConversationEventData } from '../../protocol/index.js';
import { evolve, initialState, redactionPatches, toNewEvents, type ConversationState } from '../domain/index.js';
import { isConcurrencyError, isStoreUnavailableError } from '../store/index.js';
import { appendOptionsOf, stampedWith, type AppendContext, type AppendMeta, type Appended, type CommandIdempotency, type DecidedEvent } from './decided-events.js';

/** Commands that need a moderator's rank: only those may retry at once, so a member cannot jump the queue with them. */
export const URGENT: ReadonlySet<Command['type']> = new Set<Command['type']>([
  'SetRole', 'MuteMember', 'BanMember', 'UnbanMember', 'PinMessage', 'UnpinMessage', 'ResolveReport',
]);
/** How often an urgent command is decided again at once before it answers `conflict`. */
const URGENT_ATTEMPTS = 32;

/**
 * An urgent command after it lost a race: decided against a private state that is not
 * changed until its append succeeded, so a lost race only needs the events it missed.
 */
export async function appendUrgently(
  ctx: AppendContext,
  stream: string,
  meta: AppendMeta,
  decideEvents: (state: ConversationState) => DecidedEvent[],
  idempotency: Omit<CommandIdempotency, 'urgent'>,
): Promise<Appended> {
  const state = initialState();
  for (let attempt = 0; attempt < URGENT_ATTEMPTS; attempt++) {
    await ctx.states.catchUp(state, stream);
    const before = state.version;
    const decided = decideEvents(state);
    const patches = redactionPatches(state, decided as ConversationEventData[]);
    const at = Date.now();
    const record = idempotency.recordOf(before + decided.length, decided);
    const started = performance.now();
    try {
      const appended = await ctx.store.append(stream, toNewEvents(decided, stampedWith(meta, at)), appendOptionsOf(before, decided, record, idempotency.legacyKey, patches));
      ctx.metrics.appendSeconds.observe((performance.now() - started) / 1000);
      if (appended.duplicate) return { version: appended.version, events: [], duplicate: appended.duplicate };
      for (const e of decided) evolve(state, e as ConversationEventData, at);
      ctx.metrics.eventsAppended.inc(appended.events.length);
      ctx.wrote(appended.events);
      // Cached only if no other command cached one meanwhile (a stale one conflicts and reloads).
      ctx.states.keepUnlessCached(stream, state);
      return { version: state.version, events: appended.events, record, duplicate: null };
    } catch (err) {
      if (isStoreUnavailableError(err)) throw new ParleyError('unavailable', undefined, { cause: err });
      if (!isConcurrencyError(err)) throw err;
      const prior = await idempotency.findPrior();
      if (prior) return { version: before, events: [], duplicate: prior };
      ctx.metrics.commandConflicts.inc({ type: idempotency.label });
    }
  }
  throw new ParleyError('conflict');
}
