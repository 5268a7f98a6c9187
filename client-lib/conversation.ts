/**
 * One open conversation: its messages as an ordered observable list, the actions on it,
 * and gap-free catch-up.
 *
 * What it holds is stored under `conv/<id>`: confirmed messages, `lastSeq` (the newest
 * event seq applied, sent as `afterSeq` when resubscribing), whether older history
 * exists that is not loaded yet, and `gaps`: seq ranges the server told us to page over
 * HTTP (`behind`). A gap is stored before `lastSeq` moves past it and removed only once
 * paged, so a crash or a failed fetch never turns it into a silent hole.
 */
import type { Command, WireEvent } from '../protocol/index.js';
import type { HttpApi } from './http.js';
import { isLocalId } from './ids.js';
import { applyAck, applyEvent, mergeHistory, viewOf, type Message, type MessageView } from './messages.js';
import { ConversationModeration } from './moderation.js';
import { Value, type Observable } from './observable.js';
import type { Outbox } from './outbox.js';
import type { Storage } from './storage.js';
import { Thread } from './threads.js';

interface Held {
  lastSeq: number;
  messages: Message[];
  hasOlder: boolean;
  gaps: { afterSeq: number; headSeq: number }[];
}

export interface ConversationContext {
  userId: string;
  storage: Storage;
  outbox: Outbox;
  http: HttpApi;
  /** Puts a command in the outbox (durably) and starts sending; resolves with its id. */
  enqueue(command: Command): Promise<string>;
  /** Sends an ephemeral frame if online. */
  sendNow(frame: { type: 'typing'; conversationId: string }): boolean;
}

const PAGE = 1000;
const TYPING_MS = 4000;

export class Conversation {
  private held: Held = { lastSeq: 0, messages: [], hasOlder: false, gaps: [] };
  private readonly view = new Value<MessageView[]>([]);
  private readonly typists = new Value<string[]>([]);
  private readonly typingTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private writes: Promise<void> = Promise.resolve();
  private paging: Promise<void> | undefined;
  private readonly threads = new Map<string, Thread>();
  /** Ordered messages, pending ones included; updates on every change. */
  readonly messages: Observable<MessageView[]> = this.view;
  /** Other members typing right now. */
  readonly typing: Observable<string[]> = this.typists;
  /** Roles and moderation: setRole, mute, ban, report, pin, and the current view (moderation.ts). */
  readonly moderation: ConversationModeration;

  /** `id` is a server id, or a local id until the conversation's creation is acked. */
  constructor(
    public id: string,
    private readonly ctx: ConversationContext,
  ) {
    ctx.outbox.items.subscribe(() => this.recompute());
    this.moderation = new ConversationModeration(() => this.id, ctx);
  }

  /** Loads what storage holds; a first open starts at the list's `lastSeq` with older history to page. */
  async load(knownLastSeq = 0): Promise<void> {
    const stored = await this.ctx.storage.get<Held>(this.key());
    if (stored) {
      this.held = stored;
      this.recompute();
    } else {
      // Stored at once: from now on this conversation is resubscribed on every reconnect.
      this.held = { lastSeq: knownLastSeq, messages: [], hasOlder: knownLastSeq > 0, gaps: [] };
      this.changed();
    }
  }

  get lastSeq(): number {
    return this.held.lastSeq;
  }

  /** True while older messages exist on the server that `loadOlder()` has not fetched. */
  get hasOlder(): boolean {
    return this.held.hasOlder;
  }

  /** Applies a server event; events at or below `lastSeq` are duplicates and ignored. */
  applyEvent(e: WireEvent): void {
    if (e.seq <= this.held.lastSeq) return;
    if (e.seq > this.held.lastSeq + 1) this.held.gaps.push({ afterSeq: this.held.lastSeq, headSeq: e.seq - 1 });
    this.held.messages = applyEvent(this.held.messages, e);
    this.held.lastSeq = e.seq;
    for (const thread of this.threads.values()) thread.applyEvent(e);
    this.changed();
    this.moderation.observe(e);
    if (this.held.gaps.length > 0) void this.fillGaps().catch(() => undefined);
  }

  /** This user's post was acked: show it with its seq now, whichever of ack and event comes first. */
  confirmPost(commandId: string, text: string, result: { seq: number; messageId?: string }, sentAt: number): void {
    if (!result.messageId || result.seq <= 0) return;
    this.held.messages = applyAck(this.held.messages, { seq: result.seq, messageId: result.messageId, author: this.ctx.userId, text, sentAt, commandId });
    this.changed();
  }

  /** The server skipped `afterSeq+1 … headSeq`: remember the gap, then page it over HTTP. */
  behind(afterSeq: number, headSeq: number): Promise<void> {
    this.held.gaps.push({ afterSeq, headSeq });
    this.held.lastSeq = Math.max(this.held.lastSeq, headSeq);
    this.changed();
    return this.fillGaps();
  }

  /** Pages every recorded gap; a gap stays recorded until its page arrived. */
  fillGaps(): Promise<void> {
    if (this.held.gaps.length === 0 || isLocalId(this.id)) return Promise.resolve();
    this.paging ??= this.pageGaps().finally(() => (this.paging = undefined));
    return this.paging;
  }

  private async pageGaps(): Promise<void> {
    while (this.held.gaps.length > 0) {
      const gap = this.held.gaps[0]!;
      // From the oldest held message on: reactions and deletes in the gap may concern them.
      const oldest = this.held.messages[0]?.seq;
      let after = Math.min(gap.afterSeq, oldest !== undefined ? oldest - 1 : gap.afterSeq);
      for (;;) {
        const page = await this.ctx.http.messages(this.id, { after, limit: PAGE });
        this.held.messages = mergeHistory(this.held.messages, page);
        if (page.length < PAGE || page[page.length - 1]!.seq >= gap.headSeq) break;
        after = page[page.length - 1]!.seq;
      }
      this.held.gaps.shift();
      this.changed();
    }
  }

  /** Fetches the page of messages before the oldest one held; resolves false when none are left. */
  async loadOlder(limit = 50): Promise<boolean> {
    if (!this.held.hasOlder || isLocalId(this.id)) return false;
    const before = this.held.messages[0]?.seq ?? this.held.lastSeq + 1;
    const page = await this.ctx.http.messages(this.id, { before, limit });
    this.held.messages = mergeHistory(this.held.messages, page);
    this.held.hasOlder = page.length === limit && (page[0]?.seq ?? 0) > 1;
    this.changed();
    return this.held.hasOlder;
  }

  /**
   * Posts a message; it shows at once as pending. Resolves with the command id once durable.
   * `attachments`: ids of your uploads to this conversation (`client.attachments.upload`).
   */
  send(text: string, options: { attachments?: readonly string[] } = {}): Promise<string> {
    const attachments = options.attachments && options.attachments.length > 0 ? [...options.attachments] : undefined;
    return this.ctx.enqueue({ type: 'PostMessage', conversationId: this.id, text, ...(attachments && { attachments }) });
  }

  /** Replies in the thread of `messageId` (a reply's id means its root's thread); pending like a post. */
  reply(messageId: string, text: string): Promise<string> {
    return this.ctx.enqueue({ type: 'PostMessage', conversationId: this.id, text, threadRootId: messageId });
  }

  /**
   * The thread of a root message: its replies live, paged over HTTP. Call `load()` on it
   * to fetch the newest replies. One object per root while the conversation is open.
   */
  thread(rootId: string): Thread {
    let thread = this.threads.get(rootId);
    if (!thread) {
      const { userId, outbox, http, enqueue } = this.ctx;
      thread = new Thread(rootId, { userId, outbox, http, enqueue, conversationId: () => this.id });
      this.threads.set(rootId, thread);
    }
    return thread;
  }

  /** Marks mentions of this user in this conversation read up to `seq` (default: the newest event held). */
  markMentionsRead(seq = this.held.lastSeq): Promise<string> {
    return this.ctx.enqueue({ type: 'MarkMentionsRead', conversationId: this.id, seq });
  }

  /** `messageId` may be a pending message's local id; the delete waits for its ack. */
  delete(messageId: string): Promise<string> {
    return this.ctx.enqueue({ type: 'DeleteMessage', conversationId: this.id, messageId });
  }

  /** Erases the content of this user's own message everywhere (the server refuses anyone else's); its place stays. */
  erase(messageId: string): Promise<string> {
    return this.ctx.enqueue({ type: 'EraseMessage', conversationId: this.id, messageId });
  }

  /** Keeps message content for `periodSeconds`, then the node redacts it; null keeps it forever (owners and admins). */
  setRetention(periodSeconds: number | null): Promise<string> {
    return this.ctx.enqueue({ type: 'SetRetention', conversationId: this.id, periodSeconds });
  }

  react(messageId: string, emoji: string): Promise<string> {
    return this.ctx.enqueue({ type: 'AddReaction', conversationId: this.id, messageId, emoji });
  }

  unreact(messageId: string, emoji: string): Promise<string> {
    return this.ctx.enqueue({ type: 'RemoveReaction', conversationId: this.id, messageId, emoji });
  }

  /** Adds a member (any member may); the conversation list shows them once acked. */
  addMember(userId: string): Promise<string> {
    return this.ctx.enqueue({ type: 'AddMember', conversationId: this.id, userId });
  }

  /** Removes a member (owners and admins may), or leaves (anyone but the last owner) when it is this user. */
  removeMember(userId: string): Promise<string> {
    return this.ctx.enqueue({ type: 'RemoveMember', conversationId: this.id, userId });
  }

  /** Marks everything up to `seq` (default: the newest event held) as read. */
  markRead(seq = this.held.lastSeq): Promise<string> {
    return this.ctx.enqueue({ type: 'MarkRead', conversationId: this.id, seq });
  }

  /** Tells the other members you are typing (ephemeral; dropped while offline). */
  typingNow(): boolean {
    return !isLocalId(this.id) && this.ctx.sendNow({ type: 'typing', conversationId: this.id });
  }

  /** A typing frame from the server. */
  someoneTyping(userId: string): void {
    clearTimeout(this.typingTimers.get(userId));
    this.typingTimers.set(userId, setTimeout(() => {
      this.typingTimers.delete(userId);
      this.typists.set(this.typists.get().filter((u) => u !== userId));
    }, TYPING_MS));
    if (!this.typists.get().includes(userId)) this.typists.set([...this.typists.get(), userId]);
  }

  /** The conversation created offline got its server id: move what is held under it. */
  async rebind(serverId: string): Promise<void> {
    const oldKey = this.key();
    this.id = serverId;
    await this.writes;
    await this.ctx.storage.delete(oldKey);
    this.changed();
  }

  /** Resolves when everything held so far is in storage. */
  flushed(): Promise<void> {
    return this.writes;
  }

  private key(): string {
    return `conv/${this.id}`;
  }

  private changed(): void {
    this.recompute();
    const key = this.key();
    const snapshot = structuredClone(this.held);
    this.writes = this.writes.catch(() => undefined).then(() => this.ctx.storage.put(key, snapshot));
  }

  private recompute(): void {
    const outbox = this.ctx.outbox;
    const mine = outbox.items.get().filter((i) => {
      const c = i.command as { conversationId?: string };
      return c.conversationId !== undefined && (outbox.resolve(c.conversationId) ?? c.conversationId) === (outbox.resolve(this.id) ?? this.id);
    });
    this.view.set(viewOf(this.held.messages, mine, this.ctx.userId, (id) => outbox.resolve(id)));
  }
}
