/**
 * Command handling: idempotency, decide against the conversation's state, append with the
 * expected version, retry on conflict.
 *
 * The state of recently used conversations stays in memory. A decided command applies
 * its events to that state at once and appends with the version it decided on, so many
 * commands to one conversation pipeline into the same group commit instead of waiting
 * for each other's fsync. If an append fails, the cached state is dropped and the next
 * command reloads it from the log; a conflict (another node wrote) retries likewise.
 */
import { createHash, randomUUID } from 'node:crypto';
import { ParleyError, type Command, type CommandResult, type ConversationEventData } from '../../protocol/index.js';
import {
  decide,
  evolve,
  initialState,
  toNewEvents,
  type ConversationCommand,
  type ConversationState,
} from '../domain/index.js';
import {
  conversationStream,
  isConcurrencyError,
  isStoreUnavailableError,
  type EventStore,
  type IdempotencyRecord,
  type StoredEvent,
} from '../store/index.js';
import type { Metrics } from './metrics.js';

export interface Outcome {
  result: CommandResult;
  /** True when this command id had been handled before: nothing new was appended. */
  duplicate: boolean;
}

const MAX_ATTEMPTS = 8;

/** An event a decider produced, before it gets an id and metadata. */
export interface DecidedEvent {
  type: string;
  data: unknown;
}

export class CommandHandler {
  private readonly states = new Map<string, ConversationState>();
  private readonly loading = new Map<string, Promise<ConversationState>>();
  private readonly inflight = new Map<string, Promise<Outcome>>();
  /** The newest log position this node appended; reads wait for read models to reach it. */
  lastPosition = 0;

  constructor(
    private readonly store: EventStore,
    private readonly metrics: Metrics,
    private readonly options: { maxTextBytes: number; cachedConversations?: number },
  ) {}

  /** Runs a command for `actor` exactly once per (actor, commandId). */
  handle(actor: string, command: Command, commandId: string, correlationId?: string): Promise<Outcome> {
    const key = `${actor}:${commandId}`;
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

  private async run(key: string, actor: string, command: Command, commandId: string, correlationId: string): Promise<Outcome> {
    if (command.type === 'PostMessage' && Buffer.byteLength(command.text, 'utf8') > this.options.maxTextBytes) {
      throw new ParleyError('text_too_long', `The text is longer than ${this.options.maxTextBytes} bytes`);
    }
    const fingerprint = fingerprintOf(command);
    const prior = await this.guard(() => this.store.findIdempotency(key));
    if (prior) return replay(prior, fingerprint);

    const conversationId = command.type === 'CreateConversation' ? randomUUID() : command.conversationId;
    const domainCommand = toDomain(command);
    const outcome = await this.decideAndAppend(conversationId, { actor, commandId, correlationId }, (state) =>
      decide(domainCommand, state, { actor, newId: randomUUID }),
      (state, decided) => {
        const result: CommandResult = { conversationId, seq: state.version };
        const posted = decided.find((e) => e.type === 'MessagePosted');
        if (posted) result.messageId = (posted.data as { messageId: string }).messageId;
        return { key, fingerprint, result };
      },
    );
    if (outcome.duplicate) return replay(outcome.duplicate, fingerprint);
    return { result: outcome.record!.result as CommandResult, duplicate: false };
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
    const o = await this.decideAndAppend(conversationId, { correlationId: meta.commandId, ...meta }, decideEvents);
    return { seq: o.version, events: o.events };
  }

  /** The conversation's current decider state (cached, caught up from the log); read only. */
  async stateOf(conversationId: string): Promise<Readonly<ConversationState>> {
    return this.load(conversationStream(conversationId));
  }

  private async decideAndAppend(
    conversationId: string,
    meta: { actor: string; commandId: string; correlationId: string },
    decideEvents: (state: ConversationState) => DecidedEvent[],
    recordOf?: (state: ConversationState, decided: DecidedEvent[]) => IdempotencyRecord,
  ): Promise<{ version: number; events: StoredEvent[]; record?: IdempotencyRecord; duplicate: IdempotencyRecord | null }> {
    const stream = conversationStream(conversationId);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      // Another node is writing this conversation: back off a little (jittered) so the
      // writers stop colliding, instead of burning the attempts back to back.
      if (attempt > 0) await new Promise((r) => setTimeout(r, Math.random() * 2 ** attempt));
      const state = await this.load(stream);
      const before = state.version;
      const decided = decideEvents(state);
      for (const e of decided) evolve(state, e as ConversationEventData);
      const after = state.version;
      const record = recordOf?.(state, decided);
      const events = toNewEvents(decided, meta);
      const started = performance.now();
      try {
        const appended = await this.store.append(stream, events, {
          // A command that changes nothing still records its id, at no particular version.
          expectedVersion: decided.length === 0 ? 'any' : before,
          idempotency: record,
        });
        this.metrics.appendSeconds.observe((performance.now() - started) / 1000);
        if (appended.duplicate) {
          if (decided.length > 0) this.states.delete(stream);
          return { version: appended.version, events: [], duplicate: appended.duplicate };
        }
        this.metrics.eventsAppended.inc(appended.events.length);
        const last = appended.events[appended.events.length - 1];
        if (last) this.lastPosition = Math.max(this.lastPosition, last.position);
        return { version: after, events: appended.events, record, duplicate: null };
      } catch (err) {
        this.states.delete(stream);
        if (isConcurrencyError(err)) continue;
        if (isStoreUnavailableError(err)) throw new ParleyError('unavailable', undefined, { cause: err });
        throw err;
      }
    }
    throw new ParleyError('conflict');
  }

  /** The conversation's state, caught up from the log (cached, least recently used evicted). */
  private async load(stream: string): Promise<ConversationState> {
    const cached = this.states.get(stream);
    if (cached) {
      this.states.delete(stream);
      this.states.set(stream, cached);
      return cached;
    }
    let loading = this.loading.get(stream);
    if (!loading) {
      loading = this.readState(stream).finally(() => this.loading.delete(stream));
      this.loading.set(stream, loading);
    }
    const state = await loading;
    // Another command may have cached (and moved) a state for this stream meanwhile.
    const current = this.states.get(stream);
    if (current) return current;
    this.states.set(stream, state);
    const cap = this.options.cachedConversations ?? 10_000;
    if (this.states.size > cap) this.states.delete(this.states.keys().next().value!);
    return state;
  }

  private async readState(stream: string): Promise<ConversationState> {
    const state = initialState();
    for (;;) {
      const page = await this.guard(() => this.store.readStream(stream, { afterSeq: state.version, limit: 1000 }));
      for (const e of page) evolve(state, e as never);
      if (page.length < 1000) return state;
    }
  }

  private async guard<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      if (isStoreUnavailableError(err)) throw new ParleyError('unavailable', undefined, { cause: err });
      throw err;
    }
  }
}

function replay(prior: { fingerprint: string; result: unknown }, fingerprint: string): Outcome {
  if (prior.fingerprint !== fingerprint) throw new ParleyError('idempotency_mismatch');
  return { result: prior.result as CommandResult, duplicate: true };
}

/** A digest of the command that does not depend on the order of its keys. */
function fingerprintOf(command: Command): string {
  const entries = Object.entries(command).sort(([a], [b]) => (a < b ? -1 : 1));
  return createHash('sha256').update(JSON.stringify(entries)).digest('base64url').slice(0, 22);
}

function toDomain(command: Command): ConversationCommand {
  switch (command.type) {
    case 'CreateConversation':
      return { type: command.type, title: command.title, members: command.members };
    case 'AddMember':
    case 'RemoveMember':
      return { type: command.type, userId: command.userId };
    case 'PostMessage':
      return { type: command.type, text: command.text, format: command.format };
    case 'DeleteMessage':
      return { type: command.type, messageId: command.messageId };
    case 'AddReaction':
    case 'RemoveReaction':
      return { type: command.type, messageId: command.messageId, emoji: command.emoji };
    case 'MarkRead':
      return { type: command.type, seq: command.seq };
    default: {
      const never: never = command;
      throw new ParleyError('unknown_command', `Unknown command ${(never as { type: string }).type}`);
    }
  }
}
