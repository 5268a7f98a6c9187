/**
 * The decider state of recently used conversations, kept in memory so commands to one
 * conversation pipeline into the same group commit instead of each reading the log.
 * A state whose append failed is forgotten; the next command reloads it from the log.
 */
import { ParleyError } from '../../protocol/index.js';
import { evolve, initialState, type ConversationState } from '../domain/index.js';
import { BoundedMap, isStoreUnavailableError, type EventStore } from '../store/index.js';

export class ConversationStates {
  private readonly states: BoundedMap<string, ConversationState>;
  private readonly loading = new Map<string, Promise<ConversationState>>();

  constructor(
    private readonly store: EventStore,
    capacity: number,
  ) {
    this.states = new BoundedMap(capacity);
  }

  /** The conversation's state, caught up from the log (cached, least recently used evicted). */
  async load(stream: string): Promise<ConversationState> {
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

  /** Drops the cached state: the next command reloads it from the log. */
  forget(stream: string): void {
    this.states.delete(stream);
  }

  /** Caches `state` only if no other command cached one meanwhile (a stale one conflicts and reloads). */
  keepUnlessCached(stream: string, state: ConversationState): void {
    if (!this.states.get(stream)) this.states.set(stream, state);
  }

  /** Applies the stream's events after the state's version to it. */
  async catchUp(state: ConversationState, stream: string): Promise<ConversationState> {
    for (;;) {
      const page = await guardStore(() => this.store.readStream(stream, { afterSeq: state.version, limit: 1000 }));
      for (const e of page) evolve(state, e as never, e.metadata.at);
      if (page.length < 1000) return state;
    }
  }

  private async readState(stream: string): Promise<ConversationState> {
    return this.catchUp(initialState(), stream);
  }
}

/** Runs a store operation, turning the store being unreachable into a coded `unavailable`. */
export async function guardStore<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    if (isStoreUnavailableError(err)) throw new ParleyError('unavailable', undefined, { cause: err });
    throw err;
  }
}
