/**
 * Presence as facts of the log: when a user's first socket on this node opens, the
 * gateway calls `online` and `UserOnline` is appended to their stream; when their last
 * one closes, `offline` and `UserOffline`. Read models and fan-out take presence from
 * those events (and cluster presence from `NodeStarted`, `NodeExpired`, …), so this
 * module only records; it does not decide who is online.
 *
 * A user's changes are appended in order, one after the other; while the store is
 * unavailable (a NATS outage) a change is retried with backoff, so a user who left
 * during the outage does not stay online for ever — and a reconnect meanwhile waits
 * behind it instead of overtaking it. What waits is one change per user, not a queue:
 * changes made while one is being recorded coalesce into the user's latest state (an
 * offline and an online cancel out), so a client reconnecting in a loop through an outage
 * costs one pending change, and the log gets the first and the final state.
 */
import { toNewEvents } from '../domain/index.js';
import { backoffDelay, isStoreUnavailableError, userStream, type EventStore } from '../store/index.js';

/** Pauses between attempts to record a presence change while the store is unavailable. */
const PRESENCE_RETRY = { initialMs: 250, maxMs: 10_000 };

/** What the gateway tells presence: a user's 0 → 1 and 1 → 0 transitions of open sockets on this node. */
export interface PresenceLog {
  online(userId: string): void;
  offline(userId: string): void;
}

/** Where a change that could not be recorded is reported (the node's log). */
export interface PresenceLogger {
  warn(obj: object, message: string): void;
  error(obj: object, message: string): void;
}

type Change = 'UserOnline' | 'UserOffline';

/** A user whose change is being recorded, and the change to record after it, if any. */
interface UserChanges {
  recording: Change;
  next: Change | undefined;
}

export class PresenceRecorder implements PresenceLog {
  /** Appends in flight; a closing node waits for them before closing its store. */
  private readonly recording = new Set<Promise<unknown>>();
  /** Users with a change being recorded. */
  private readonly users = new Map<string, UserChanges>();
  private finishing = false;

  constructor(
    private readonly store: Pick<EventStore, 'append'>,
    private readonly nodeId: string,
    private readonly log: PresenceLogger,
  ) {}

  online(userId: string): void {
    this.change('UserOnline', userId);
  }

  offline(userId: string): void {
    this.change('UserOffline', userId);
  }

  /** Resolves when every presence change so far is in the log (or given up on). */
  async settled(): Promise<void> {
    while (this.recording.size > 0) await Promise.allSettled([...this.recording]);
  }

  /**
   * For a node going down: from now on a change gets one try (it does not wait out an
   * outage); resolves once the changes so far are settled.
   */
  async finish(): Promise<void> {
    this.finishing = true;
    await this.settled();
  }

  private change(type: Change, userId: string): void {
    const user = this.users.get(userId);
    if (!user) {
      this.users.set(userId, { recording: type, next: undefined });
      this.start(type, userId);
    } else {
      // The same state as the one being recorded cancels what was to follow it.
      user.next = type === user.recording ? undefined : type;
    }
  }

  private start(type: Change, userId: string): void {
    const done: Promise<void> = this.append(type, userId)
      .catch((err: unknown) => this.log.error({ err, userId, type }, 'could not record presence'))
      .finally(() => {
        this.recording.delete(done);
        this.recorded(userId);
      });
    this.recording.add(done);
  }

  private recorded(userId: string): void {
    const user = this.users.get(userId);
    if (!user) return;
    if (user.next === undefined) {
      this.users.delete(userId);
      return;
    }
    user.recording = user.next;
    user.next = undefined;
    this.start(user.recording, userId);
  }

  /** Appends one change, retried with backoff while the store is unavailable (not once finishing). */
  private async append(type: Change, userId: string): Promise<void> {
    const events = toNewEvents([{ type, data: { userId, nodeId: this.nodeId } }], {
      actor: userId,
      commandId: `presence-${this.nodeId}`,
    });
    for (let retry = 0; ; retry++) {
      try {
        await this.store.append(userStream(userId), events, { expectedVersion: 'any' });
        return;
      } catch (err) {
        if (this.finishing || !isStoreUnavailableError(err)) {
          this.log.warn({ err, userId, type }, 'could not record presence');
          return;
        }
        await new Promise((r) => setTimeout(r, backoffDelay(retry, PRESENCE_RETRY)));
      }
    }
  }
}
