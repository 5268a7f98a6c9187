/**
 * Command handling: idempotency, decide against the conversation's state, append with the
 * expected version, retry on conflict.
 *
 * The state of recently used conversations stays in memory (conversation-states.ts). A
 * decided command applies its events to that state at once and appends with the version
 * it decided on, so many commands to one conversation pipeline into the same group commit
 * instead of waiting for each other's fsync. If an append fails, the cached state is
 * dropped and the next command reloads it from the log; a conflict (another node wrote)
 * retries likewise (append-decided.ts), a moderator's command at once (urgent-append.ts).
 *
 * This is where both doors (HTTP and WebSocket) meet, so it is also the edge where user
 * text is normalized and ids that could not be stored as sent are refused (command-input.ts).
 *
 * Idempotency keys are scoped to the actor (command-idempotency.ts). A retry is answered
 * only after the authorization its first attempt needed (membership of the conversation,
 * checked now), so a repeated id never tells anything to someone the command itself would
 * be refused to.
 *
 * The key is checked once, by the store, inside the append (a repeat comes back as a
 * duplicate with the original record); repeats of commands this node saw lately are known
 * without asking (recent-records.ts). Only a command that is refused or keeps conflicting
 * looks its key up here: it may have been applied before the state changed (the message
 * since deleted, the sender since removed), and then its original result is the answer,
 * not the refusal.
 */
import { randomUUID } from 'node:crypto';
import { ParleyError, type Command, type CommandResult } from '../../protocol/index.js';
import { decide, decideExpiry, timeOrderedId, toConversationCommand, type ConversationState } from '../domain/index.js';
import { conversationStream, LogCursor, partitionsOf, type EventStore, type IdempotencyRecord, type StoredEvent } from '../store/index.js';
import { decideAndAppend } from './append-decided.js';
import { fingerprintOf, idempotencyKey, legacyKey, replay, type Outcome } from './command-idempotency.js';
import { checkCommandId, normalized } from './command-input.js';
import { ConversationStates, guardStore } from './conversation-states.js';
import type { AppendContext, DecidedEvent } from './decided-events.js';
import type { Metrics } from './metrics.js';
import { RecentRecords } from './recent-records.js';
import { URGENT } from './urgent-append.js';

export type { DecidedEvent } from './decided-events.js';
export { idempotencyKey, type Outcome } from './command-idempotency.js';

export class CommandHandler {
  private readonly states: ConversationStates;
  private readonly appending: AppendContext;
  private readonly inflight = new Map<string, Promise<Outcome>>();
  private readonly recent = new RecentRecords(10_000);
  /** Per partition, the newest log position this node appended; reads wait for read models to reach it. */
  written: LogCursor;

  constructor(
    private readonly store: EventStore,
    private readonly metrics: Metrics,
    private readonly options: { maxTextBytes: number; cachedConversations?: number },
  ) {
    this.states = new ConversationStates(store, options.cachedConversations ?? 10_000);
    this.written = LogCursor.start(partitionsOf(store));
    this.appending = {
      store,
      metrics,
      states: this.states,
      wrote: (events) => {
        this.written = this.written.advancedBy(events);
      },
    };
  }

  /** Runs a command for `actor` exactly once per (actor, commandId). */
  handle(actor: string, command: Command, commandId: string, correlationId?: string): Promise<Outcome> {
    const key = idempotencyKey(actor, commandId);
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.run(key, actor, command, commandId, correlationId ?? commandId).finally(() =>
        this.inflight.delete(key),
      );
      this.inflight.set(key, pending);
    }
    return pending.then(
      (o) => {
        this.metrics.commands.inc({ type: command.type, outcome: o.duplicate ? 'duplicate' : 'ok' });
        return o;
      },
      (err) => {
        this.metrics.commands.inc({ type: command.type, outcome: (err as ParleyError).code ?? 'internal' });
        throw err;
      },
    );
  }

  private async run(key: string, actor: string, sent: Command, commandId: string, correlationId: string): Promise<Outcome> {
    checkCommandId(commandId);
    const command = normalized(sent);
    if (command.type === 'PostMessage' && Buffer.byteLength(command.text, 'utf8') > this.options.maxTextBytes) {
      throw new ParleyError('text_too_long', `The text is longer than ${this.options.maxTextBytes} bytes`);
    }
    const fingerprint = fingerprintOf(command);
    const known = this.recent.get(key);
    const outcome = known ? { repeat: known } : await this.applyOnce(key, actor, command, commandId, correlationId, fingerprint);
    if ('applied' in outcome) {
      this.recent.remember(key, { key, fingerprint, result: outcome.applied });
      return { result: outcome.applied, duplicate: false };
    }
    this.recent.remember(key, outcome.repeat);
    await this.authorizeRepeat(actor, command, outcome.repeat, fingerprint);
    return replay(outcome.repeat, fingerprint);
  }

  /**
   * Decides and appends the command under its key: the result, or the record of its
   * first run when the key was used before (told by the append, or looked up when the
   * command is refused or keeps conflicting now).
   */
  private async applyOnce(
    key: string,
    actor: string,
    command: Command,
    commandId: string,
    correlationId: string,
    fingerprint: string,
  ): Promise<{ applied: CommandResult } | { repeat: IdempotencyRecord }> {
    const conversationId = command.type === 'CreateConversation' ? randomUUID() : command.conversationId;
    const domainCommand = toConversationCommand(command);
    try {
      const outcome = await decideAndAppend(
        this.appending,
        conversationId,
        { actor, commandId, correlationId },
        (state) => decide(domainCommand, state, { actor, newId: timeOrderedId, now: Date.now() }),
        {
          label: command.type,
          urgent: URGENT.has(command.type),
          legacyKey: legacyKey(actor, commandId),
          findPrior: () => this.findPrior(key, actor, commandId),
          recordOf: (version, decided) => {
            const result: CommandResult = { conversationId, seq: version };
            const posted = decided.find((e) => e.type === 'MessagePosted');
            if (posted) result.messageId = (posted.data as { messageId: string }).messageId;
            return { key, fingerprint, result };
          },
        },
      );
      if (outcome.duplicate) return { repeat: outcome.duplicate };
      return { applied: outcome.record!.result as CommandResult };
    } catch (err) {
      if (!(err instanceof ParleyError) || err.code === 'unavailable') throw err;
      const prior = await this.findPrior(key, actor, commandId);
      if (!prior) throw err;
      return { repeat: prior };
    }
  }

  /** The record of this actor's command id: the current key, or the unambiguous old-form one. */
  private async findPrior(key: string, actor: string, commandId: string): Promise<IdempotencyRecord | undefined> {
    const legacy = legacyKey(actor, commandId);
    // In parallel, so a store that answers over the network adds no round trip.
    const [current, old] = await Promise.all([
      guardStore(() => this.store.findIdempotency(key)),
      legacy === undefined ? undefined : guardStore(() => this.store.findIdempotency(legacy)),
    ]);
    return current ?? old;
  }

  /**
   * A repeated command is answered only with the authority its first attempt needed: the
   * actor must be a member of the conversation now, as the decider would require, so a
   * non-member gets `forbidden` exactly like a first attempt. Creating a conversation
   * needs no membership; leaving is the one command that ends its own authority, so a
   * repeated leave of one's own membership is answered although the actor is no member.
   */
  private async authorizeRepeat(actor: string, command: Command, prior: IdempotencyRecord, fingerprint: string): Promise<void> {
    if (command.type === 'CreateConversation') return;
    const state = await this.states.load(conversationStream(command.conversationId));
    if (state.exists && state.members.has(actor)) return;
    const ownLeave = command.type === 'RemoveMember' && command.userId === actor && prior.fingerprint === fingerprint;
    if (!(ownLeave && state.exists)) throw new ParleyError('forbidden');
  }

  /**
   * Appends what `decideEvents` decides against the conversation's current state, with
   * the state's version as the expected version; retries on conflict. Other layers (Yjs
   * sync) use it for events that need the same authority and ordering as commands.
   */
  async applyToConversation(
    conversationId: string,
    meta: { actor: string; commandId: string; correlationId?: string },
    decideEvents: (state: Readonly<ConversationState>) => DecidedEvent[],
  ): Promise<{ seq: number; events: StoredEvent[] }> {
    const o = await decideAndAppend(this.appending, conversationId, { correlationId: meta.commandId, ...meta }, decideEvents);
    return { seq: o.version, events: o.events };
  }

  /**
   * The retention sweep of one conversation at `now`: appends its MessagesExpired, or
   * nothing when nothing is due (checked first, so an idle sweep writes nothing).
   * Returns the seq through which messages expired, or 0.
   */
  async expire(conversationId: string, actor: string, now: number): Promise<number> {
    if (decideExpiry(await this.stateOf(conversationId), now).length === 0) return 0;
    let through = 0;
    await this.applyToConversation(conversationId, { actor, commandId: `retention-${conversationId}-${now}` }, (state) => {
      const decided = decideExpiry(state, now);
      through = decided.length > 0 ? (decided[0]!.data as { throughSeq: number }).throughSeq : 0;
      return decided;
    });
    return through;
  }

  /** The conversation's current decider state (cached, caught up from the log); read only. */
  async stateOf(conversationId: string): Promise<Readonly<ConversationState>> {
    return this.states.load(conversationStream(conversationId));
  }

}
