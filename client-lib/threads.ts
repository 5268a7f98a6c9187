/**
 * One open thread: its root and replies as an observable list, the actions on it, and
 * paging both ways. Replies arrive live in the conversation's event stream (a
 * `MessagePosted` with `threadRootId`); the conversation hands each one to its open
 * threads. What the thread holds is not stored: it is paged again over HTTP when opened.
 * A reply goes through the outbox like any post: shown at once as pending, sent when
 * online, kept across restarts; a reply to a message posted offline waits for its ack.
 */
import type { Command, HistoryMessage, ThreadPage, WireEvent } from '../protocol/index.js';
import type { HttpApi } from './http.js';
import { isLocalId } from './ids.js';
import { applyEvent, mergeHistory, viewOf, type Message, type MessageView } from './messages.js';
import { Value, type Observable } from './observable.js';
import type { Outbox } from './outbox.js';

export interface ThreadContext {
  userId: string;
  outbox: Outbox;
  http: HttpApi;
  /** The conversation's id now (a local id until its creation is acked). */
  conversationId(): string;
  enqueue(command: Command): Promise<string>;
}

export class Thread {
  private replies: Message[] = [];
  private readonly rootValue = new Value<HistoryMessage | null>(null);
  private readonly view = new Value<MessageView[]>([]);
  private olderLeft = true;
  /** The root message as the server last said (null until loaded, or when it does not exist). */
  readonly root: Observable<HistoryMessage | null> = this.rootValue;
  /** Replies in seq order, pending ones at the end. */
  readonly messages: Observable<MessageView[]> = this.view;

  constructor(
    /** The root message's id (a local id while the root itself is pending). */
    readonly rootId: string,
    private readonly ctx: ThreadContext,
  ) {
    ctx.outbox.items.subscribe(() => this.recompute());
  }

  /** True while older replies may exist that `loadOlder()` has not fetched. */
  get hasOlder(): boolean {
    return this.olderLeft;
  }

  /** Fetches the newest replies (needs the network; `before` the end, newest `limit`). */
  async load(limit = 50): Promise<void> {
    const page = await this.page({ before: Number.MAX_SAFE_INTEGER, limit });
    this.olderLeft = page.messages.length === limit;
  }

  /** Fetches the page before the oldest reply held; resolves false when none are left. */
  async loadOlder(limit = 50): Promise<boolean> {
    const oldest = this.replies[0]?.seq;
    const page = await this.page(oldest === undefined ? { before: Number.MAX_SAFE_INTEGER, limit } : { before: oldest, limit });
    this.olderLeft = page.messages.length === limit;
    return this.olderLeft;
  }

  /** Fetches replies after the newest held (e.g. after being offline); resolves how many came. */
  async loadNewer(limit = 100): Promise<number> {
    const page = await this.page({ after: this.replies.at(-1)?.seq ?? 0, limit });
    return page.messages.length;
  }

  /** Replies in this thread; shows at once as pending. Resolves with the command id once durable. */
  reply(text: string): Promise<string> {
    return this.ctx.enqueue({ type: 'PostMessage', conversationId: this.ctx.conversationId(), text, threadRootId: this.rootId });
  }

  follow(): Promise<string> {
    return this.ctx.enqueue({ type: 'FollowThread', conversationId: this.ctx.conversationId(), threadRootId: this.rootId });
  }

  unfollow(): Promise<string> {
    return this.ctx.enqueue({ type: 'UnfollowThread', conversationId: this.ctx.conversationId(), threadRootId: this.rootId });
  }

  /** Marks the thread's replies read up to `seq` (default: the newest reply held). */
  markRead(seq = this.replies.at(-1)?.seq ?? 0): Promise<string> {
    return this.ctx.enqueue({ type: 'MarkThreadRead', conversationId: this.ctx.conversationId(), threadRootId: this.rootId, seq });
  }

  /** An event of the conversation: replies of this thread and changes to replies held. */
  applyEvent(e: WireEvent): void {
    if (e.type === 'MessagePosted' && e.data.threadRootId !== (this.ctx.outbox.resolve(this.rootId) ?? this.rootId)) return;
    const before = this.replies;
    // Held as top-level messages of this list: `applyEvent` of messages.ts inserts only those.
    this.replies = applyEvent(before, e.type === 'MessagePosted' ? asTopLevel(e) : e);
    if (this.replies !== before) this.recompute();
  }

  private async page(page: { after?: number; before?: number; limit: number }): Promise<ThreadPage> {
    const conversationId = this.ctx.outbox.resolve(this.ctx.conversationId());
    const rootId = this.ctx.outbox.resolve(this.rootId);
    // Nothing is on the server yet for a conversation or a root still in the outbox.
    if (conversationId === undefined || rootId === undefined || isLocalId(conversationId)) return { root: null, messages: [] };
    const got = await this.ctx.http.thread(conversationId, rootId, page);
    this.rootValue.set(got.root);
    this.replies = mergeHistory(this.replies, got.messages);
    this.recompute();
    return got;
  }

  private recompute(): void {
    const outbox = this.ctx.outbox;
    const root = outbox.resolve(this.rootId) ?? this.rootId;
    const mine = outbox.items.get().filter((i) => {
      const c = i.command;
      if (c.type === 'PostMessage') return c.threadRootId !== undefined && (outbox.resolve(c.threadRootId) ?? c.threadRootId) === root;
      return c.type === 'DeleteMessage' || c.type === 'AddReaction' || c.type === 'RemoveReaction';
    });
    this.view.set(viewOf(this.replies, mine, this.ctx.userId, (id) => outbox.resolve(id), { replies: true }));
  }
}

function asTopLevel(e: WireEvent & { type: 'MessagePosted' }): WireEvent {
  const { threadRootId: _, threadRootAuthor: __, ...data } = e.data;
  return { ...e, data } as WireEvent;
}
