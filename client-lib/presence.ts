/**
 * Who is online among the people sharing a conversation with this user. Presence frames
 * only report changes, so opening a conversation (and every reconnect) seeds the view
 * over HTTP; frames keep it current.
 */
import type { ServerFrame } from '../protocol/index.js';
import type { HttpApi } from './http.js';
import { Value, type Observable } from './observable.js';

export interface Presence {
  online: boolean;
  /** Milliseconds since the epoch; null when never seen or online now. */
  lastSeen: number | null;
}

export class PresenceBook {
  private readonly value = new Value<Record<string, Presence>>(byUser());
  /** userId → presence (a null-prototype object: user ids are input, `people.get()[id]` inherits nothing). */
  readonly people: Observable<Record<string, Presence>> = this.value;

  constructor(private readonly http: HttpApi) {}

  onFrame(f: Extract<ServerFrame, { type: 'presence' }>): void {
    const next = byUser(this.value.get());
    next[f.userId] = { online: f.online, lastSeen: f.lastSeen };
    this.value.set(next);
  }

  /** Fetches the members' presence of a conversation; silent when offline or no longer a member. */
  async seed(conversationId: string): Promise<void> {
    try {
      const members = await this.http.presence(conversationId);
      const next = byUser(this.value.get());
      for (const m of members) next[m.userId] = { online: m.online, lastSeen: m.lastSeen };
      this.value.set(next);
    } catch {
      // Frames will tell the rest.
    }
  }
}

/** A copy of `from` with no prototype, so a user id such as `__proto__` is an ordinary key. */
function byUser(from: Record<string, Presence> = {}): Record<string, Presence> {
  return Object.assign(Object.create(null) as Record<string, Presence>, from);
}
