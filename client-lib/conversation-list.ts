/**
 * The user's conversations: fetched over HTTP when online, cached in storage for
 * offline starts, with conversations created offline shown as `pending` until acked.
 */
import type { HttpApi, ConversationSummary } from './http.js';
import { localIdFor } from './ids.js';
import { Value, type Observable } from './observable.js';
import type { Outbox } from './outbox.js';
import type { Storage } from './storage.js';

const KEY = 'conversations';

export class ConversationList {
  private cached: ConversationSummary[] = [];
  private readonly value = new Value<ConversationSummary[]>([]);
  readonly list: Observable<ConversationSummary[]> = this.value;

  constructor(
    private readonly storage: Storage,
    private readonly http: HttpApi,
    private readonly outbox: Outbox,
    private readonly userId: string,
  ) {
    outbox.items.subscribe(() => this.recompute());
  }

  async load(): Promise<void> {
    this.cached = (await this.storage.get<ConversationSummary[]>(KEY)) ?? [];
    this.recompute();
  }

  /** Fetches the list from the server and caches it; throws when offline. */
  async refresh(): Promise<ConversationSummary[]> {
    this.cached = await this.http.conversations();
    await this.storage.put(KEY, this.cached);
    this.recompute();
    return this.value.get();
  }

  find(id: string): ConversationSummary | undefined {
    return this.value.get().find((c) => c.id === id);
  }

  private recompute(): void {
    const pending: ConversationSummary[] = [];
    for (const item of this.outbox.items.get()) {
      const c = item.command;
      if (c.type !== 'CreateConversation') continue;
      const created = this.outbox.resolve(localIdFor(item.id));
      if (created && this.cached.some((s) => s.id === created)) continue;
      pending.push({
        id: created ?? localIdFor(item.id),
        title: c.title,
        createdBy: this.userId,
        createdAt: new Date(item.createdAt).toISOString(),
        members: [...new Set([this.userId, ...c.members])],
        lastSeq: 0,
        lastMessage: null,
        readSeq: 0,
        unread: 0,
        pending: true,
      });
    }
    this.value.set([...this.cached, ...pending]);
  }
}
