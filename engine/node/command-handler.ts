/**
 * Command handling: idempotency, decide against the conversation's state, append with the
 * expected version, retry on conflict.
 *
 * The state of recently used conversations stays in memory. A decided command applies
 * its events to that state at once and appends with the version it decided on, so many
 * commands to one conversation pipeline into the same group commit instead of waiting
 * for each other's fsync. If an append fails, the cached state is dropped and the next
 * command reloads it from the log; a conflict (another node wrote) retries likewise.
 *
 * This is where both doors (HTTP and WebSocket) meet, so it is also the edge where user
 * text is normalized (lone surrogates become U+FFFD, see domain/well-formed.ts) and ids
 * that could not be stored as sent are refused, before anything is decided or keyed.
 *
 * Idempotency keys are scoped to the actor without ambiguity: `${actor.length}:${actor}:
 * ${commandId}` (the length says where the actor ends, whatever either part contains).
 * The old `${actor}:${commandId}` let users `u` and `u:1` share keys. A retry is answered
 * only after the authorization its first attempt needed (membership of the conversation,
 * checked now), so a repeated id never tells anything to someone the command itself would
 * be refused to. Logs written before keys were length-prefixed still hold old-form keys:
 * one is looked up too, but only when neither the actor nor the command id contains a
 * `:`: then the old key has exactly one `:` and can only have been written by this actor.
 *
 * The key is checked once, by the store, inside the append (a repeat comes back as a
 * duplicate with the original record); repeats of commands this node saw lately are known
 * without asking (recent-records.ts). Only a command that is refused or keeps conflicting
 * looks its key up here: it may have been applied before the state changed (the message
 * since deleted, the sender since removed), and then its original result is the answer,
 * not the refusal.
 *
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
import { hash, randomUUID } from 'node:crypto';
import { ParleyError, type Command, type CommandResult, type ConversationEventData } from '../../protocol/index.js';
import {
  decide,
  decideExpiry,
  evolve,
  initialState,
  redactionPatches,
  isWellFormed,
  timeOrderedId,
  toNewEvents,
  toWellFormed,
  toConversationCommand,
  type ConversationState,
} from '../domain/index.js';
import {
  backoffDelay,
  BoundedMap,
  conversationStream,
  isConcurrencyError,
  isStoreUnavailableError,
  LogCursor,
  partitionsOf,
  type EventStore,
  type IdempotencyRecord,
  type StoredEvent,
} from '../store/index.js';
import type { Metrics } from './metrics.js';
import { normalizedModeration } from './moderation-commands.js';
import { RecentRecords } from './recent-records.js';

export interface Outcome {
  result: CommandResult;
  /** True when this command id had been handled before: nothing new was appended. */
  duplicate: boolean;
}

const MAX_ATTEMPTS = 8;
/** Commands that need a moderator's rank: only those may retry at once, so a member cannot jump the queue with them. */
const URGENT: ReadonlySet<Command['type']> = new Set<Command['type']>([
  'SetRole', 'MuteMember', 'BanMember', 'UnbanMember', 'PinMessage', 'UnpinMessage', 'ResolveReport',
]);
/** How often an urgent command is decided again at once before it answers `conflict`. */
const URGENT_ATTEMPTS = 32;
/** Pauses before deciding again after a conflict: anywhere in a window doubling from 2 ms, so racing writers spread out. */
const CONFLICT_RETRY = { initialMs: 1, maxMs: 128, jitter: 'full' } as const;

/** An event a decider produced, before it gets an id and metadata. */
export interface DecidedEvent {
  type: string;
  data: unknown;
}

export class CommandHandler {
  private readonly states: BoundedMap<string, ConversationState>;
  private readonly loading = new Map<string, Promise<ConversationState>>();
  private readonly inflight = new Map<string, Promise<Outcome>>();
  private readonly recent = new RecentRecords(10_000);
  /** Per partition, the newest log position this node appended; reads wait for read models to reach it. */
  written: LogCursor;

  constructor(
    private readonly store: EventStore,
    private readonly metrics: Metrics,
    private readonly options: { maxTextBytes: number; cachedConversations?: number },
  ) {
    this.states = new BoundedMap(options.cachedConversations ?? 10_000);
    this.written = LogCursor.start(partitionsOf(store));
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
      const outcome = await this.decideAndAppend(
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
      this.guard(() => this.store.findIdempotency(key)),
      legacy === undefined ? undefined : this.guard(() => this.store.findIdempotency(legacy)),
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
    const state = await this.load(conversationStream(command.conversationId));
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
    const o = await this.decideAndAppend(conversationId, { correlationId: meta.commandId, ...meta }, decideEvents);
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
    return this.load(conversationStream(conversationId));
  }

  private async decideAndAppend(
    conversationId: string,
    meta: { actor: string; commandId: string; correlationId: string },
    decideEvents: (state: ConversationState) => DecidedEvent[],
    idempotency?: {
      /** The command's type, for the conflict metric. */
      label: string;
      /** Retry at once, with a private state caught up incrementally (see the header). */
      urgent: boolean;
      /** The record of the command, given the version its events take the conversation to. */
      recordOf: (version: number, decided: DecidedEvent[]) => IdempotencyRecord;
      /** Looked up by the store with the record's key: see legacyKey(). */
      legacyKey: string | undefined;
      /** The key's record, if the command ran before: asked after a conflict, before deciding again. */
      findPrior: () => Promise<IdempotencyRecord | undefined>;
    },
  ): Promise<{ version: number; events: StoredEvent[]; record?: IdempotencyRecord; duplicate: IdempotencyRecord | null }> {
    const stream = conversationStream(conversationId);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      // Another node is writing this conversation: back off a little (jittered) so the
      // writers stop colliding, instead of burning the attempts back to back.
      if (attempt > 0) await new Promise((r) => setTimeout(r, backoffDelay(attempt, CONFLICT_RETRY)));
      const state = await this.load(stream);
      const before = state.version;
      const decided = decideEvents(state);
      // Asked before the events apply: the state then still says where the content is.
      const patches = redactionPatches(state, decided as ConversationEventData[]);
      const at = Date.now();
      for (const e of decided) evolve(state, e as ConversationEventData, at);
      const after = state.version;
      const record = idempotency?.recordOf(after, decided);
      const events = toNewEvents(decided, { ...meta, at });
      const started = performance.now();
      try {
        const appended = await this.store.append(stream, events, {
          // A command that changes nothing still records its id, at no particular version.
          expectedVersion: decided.length === 0 ? 'any' : before,
          idempotency: record,
          ...(idempotency?.legacyKey !== undefined && { legacyKey: idempotency.legacyKey }),
          ...(patches.length > 0 && { patches }),
        });
        this.metrics.appendSeconds.observe((performance.now() - started) / 1000);
        if (appended.duplicate) {
          if (decided.length > 0) this.states.delete(stream);
          return { version: appended.version, events: [], duplicate: appended.duplicate };
        }
        this.metrics.eventsAppended.inc(appended.events.length);
        this.written = this.written.advancedBy(appended.events);
        return { version: after, events: appended.events, record, duplicate: null };
      } catch (err) {
        this.states.delete(stream);
        if (isConcurrencyError(err)) {
          // A conflict is also what an append gets when it was queued behind a repeat of an
          // earlier command (decided as new, then found a duplicate): a client resending its
          // whole outbox after a restart fills the pipeline with those. Asking for the key
          // here answers each repeat after one round instead of letting them take down the
          // new commands behind them until those run out of attempts.
          const prior = idempotency && (await idempotency.findPrior());
          if (prior) return { version: before, events: [], duplicate: prior };
          this.metrics.commandConflicts.inc({ type: idempotency?.label ?? 'sync' });
          if (idempotency?.urgent) return this.appendUrgently(stream, meta, decideEvents, idempotency);
          continue;
        }
        if (isStoreUnavailableError(err)) throw new ParleyError('unavailable', undefined, { cause: err });
        throw err;
      }
    }
    throw new ParleyError('conflict');
  }

  /**
   * An urgent command after it lost a race: decided against a private state that is not
   * changed until its append succeeded, so a lost race only needs the events it missed.
   */
  private async appendUrgently(
    stream: string,
    meta: { actor: string; commandId: string; correlationId: string },
    decideEvents: (state: ConversationState) => DecidedEvent[],
    idempotency: {
      label: string;
      recordOf: (version: number, decided: DecidedEvent[]) => IdempotencyRecord;
      legacyKey: string | undefined;
      findPrior: () => Promise<IdempotencyRecord | undefined>;
    },
  ): Promise<{ version: number; events: StoredEvent[]; record?: IdempotencyRecord; duplicate: IdempotencyRecord | null }> {
    const state = initialState();
    for (let attempt = 0; attempt < URGENT_ATTEMPTS; attempt++) {
      await this.catchUp(state, stream);
      const before = state.version;
      const decided = decideEvents(state);
      const patches = redactionPatches(state, decided as ConversationEventData[]);
      const at = Date.now();
      const record = idempotency.recordOf(before + decided.length, decided);
      const started = performance.now();
      try {
        const appended = await this.store.append(stream, toNewEvents(decided, { ...meta, at }), {
          expectedVersion: decided.length === 0 ? 'any' : before,
          idempotency: record,
          ...(idempotency.legacyKey !== undefined && { legacyKey: idempotency.legacyKey }),
          ...(patches.length > 0 && { patches }),
        });
        this.metrics.appendSeconds.observe((performance.now() - started) / 1000);
        if (appended.duplicate) return { version: appended.version, events: [], duplicate: appended.duplicate };
        for (const e of decided) evolve(state, e as ConversationEventData, at);
        this.metrics.eventsAppended.inc(appended.events.length);
        this.written = this.written.advancedBy(appended.events);
        // Cached only if no other command cached one meanwhile (a stale one conflicts and reloads).
        if (!this.states.get(stream)) this.states.set(stream, state);
        return { version: state.version, events: appended.events, record, duplicate: null };
      } catch (err) {
        if (isStoreUnavailableError(err)) throw new ParleyError('unavailable', undefined, { cause: err });
        if (!isConcurrencyError(err)) throw err;
        const prior = await idempotency.findPrior();
        if (prior) return { version: before, events: [], duplicate: prior };
        this.metrics.commandConflicts.inc({ type: idempotency.label });
      }
    }
    throw new ParleyError('conflict');
  }

  /** The conversation's state, caught up from the log (cached, least recently used evicted). */
  private async load(stream: string): Promise<ConversationState> {
    const cached = this.states.get(stream);
    if (cached) {
      this.states.set(stream, cached); // most recently used
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
    return state;
  }

  private async readState(stream: string): Promise<ConversationState> {
    return this.catchUp(initialState(), stream);
  }

  /** Applies the stream's events after the state's version to it. */
  private async catchUp(state: ConversationState, stream: string): Promise<ConversationState> {
    for (;;) {
      const page = await this.guard(() => this.store.readStream(stream, { afterSeq: state.version, limit: 1000 }));
      for (const e of page) evolve(state, e as never, e.metadata.at);
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

/** The idempotency key of an actor's command id; the length prefix makes it unambiguous. */
export function idempotencyKey(actor: string, commandId: string): string {
  return `${actor.length}:${actor}:${commandId}`;
}

/** The key this command had before keys were length-prefixed, when only this actor can have written it. */
function legacyKey(actor: string, commandId: string): string | undefined {
  return actor.includes(':') || commandId.includes(':') ? undefined : `${actor}:${commandId}`;
}

// C0 controls and DEL: a command id travels in log lines and (JetStream) a message header.
const CONTROL = /[\u0000-\u001f\u007f]/;

function checkCommandId(commandId: string): void {
  if (typeof commandId !== 'string' || commandId.length === 0 || commandId.length > 200) {
    throw new ParleyError('invalid_request', 'A command id is a string of 1 to 200 characters');
  }
  if (!isWellFormed(commandId) || CONTROL.test(commandId)) {
    throw new ParleyError('invalid_request', 'A command id may not contain control characters or lone surrogates');
  }
}

/** Refuses an id that is not well-formed text: normalizing it could make two ids one. */
function id(value: string, name: string): string {
  if (!isWellFormed(value)) throw new ParleyError('invalid_request', `${name} contains a lone surrogate`);
  return value;
}

/** The command with its texts well-formed and its ids checked; built field by field, so nothing else rides along. */
function normalized(command: Command): Command {
  switch (command.type) {
    case 'CreateConversation':
      return { type: command.type, title: toWellFormed(command.title), members: command.members.map((m) => id(m, 'members')) };
    case 'AddMember':
    case 'RemoveMember':
      return { type: command.type, conversationId: id(command.conversationId, 'conversationId'), userId: id(command.userId, 'userId') };
    case 'PostMessage':
      return {
        type: command.type,
        conversationId: id(command.conversationId, 'conversationId'),
        text: toWellFormed(command.text),
        ...(command.format !== undefined && { format: command.format }),
        ...(command.threadRootId !== undefined && { threadRootId: id(command.threadRootId, 'threadRootId') }),
        ...(command.attachments !== undefined && { attachments: command.attachments.map((a) => id(a, 'attachments')) }),
      };
    case 'DeleteMessage':
      return { type: command.type, conversationId: id(command.conversationId, 'conversationId'), messageId: id(command.messageId, 'messageId') };
    case 'AddReaction':
    case 'RemoveReaction':
      return {
        type: command.type,
        conversationId: id(command.conversationId, 'conversationId'),
        messageId: id(command.messageId, 'messageId'),
        emoji: toWellFormed(command.emoji),
      };
    case 'MarkRead':
      return { type: command.type, conversationId: id(command.conversationId, 'conversationId'), seq: command.seq };
    case 'SetRole':
    case 'MuteMember':
    case 'BanMember':
    case 'UnbanMember':
    case 'ReportMessage':
    case 'PinMessage':
    case 'UnpinMessage':
    case 'ResolveReport':
      return normalizedModeration(command, id);
    case 'FollowThread':
    case 'UnfollowThread':
      return { type: command.type, conversationId: id(command.conversationId, 'conversationId'), threadRootId: id(command.threadRootId, 'threadRootId') };
    case 'MarkThreadRead':
      return {
        type: command.type,
        conversationId: id(command.conversationId, 'conversationId'),
        threadRootId: id(command.threadRootId, 'threadRootId'),
        seq: command.seq,
      };
    case 'MarkMentionsRead':
      return { type: command.type, conversationId: id(command.conversationId, 'conversationId'), seq: command.seq };
    case 'SetRetention':
      return { type: command.type, conversationId: id(command.conversationId, 'conversationId'), periodSeconds: command.periodSeconds };
    case 'EraseMessage':
      return { type: command.type, conversationId: id(command.conversationId, 'conversationId'), messageId: id(command.messageId, 'messageId') };
    default: {
      const never: never = command;
      throw new ParleyError('unknown_command', `Unknown command ${(never as { type: string }).type}`);
    }
  }
}

function replay(prior: { fingerprint: string; result: unknown }, fingerprint: string): Outcome {
  if (prior.fingerprint !== fingerprint) throw new ParleyError('idempotency_mismatch');
  return { result: prior.result as CommandResult, duplicate: true };
}

/**
 * A digest of the command that does not depend on the order of its keys. Recorded with
 * the key and compared on every repeat, so it never changes form: SHA-256, base64url, 22
 * characters (one-shot `hash`, not a Hash object per command: it is on the hot path).
 */
function fingerprintOf(command: Command): string {
  const entries = Object.entries(command).sort(([a], [b]) => (a < b ? -1 : 1));
  return hash('sha256', JSON.stringify(entries), 'base64url').slice(0, 22);
}
