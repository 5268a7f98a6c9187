/**
 * The Parley client: one object per signed-in user, wiring the connection, the outbox,
 * the conversation list and open conversations to storage.
 *
 * On every (re)authentication it resubscribes each conversation it holds from its
 * `lastSeq`, pages recorded gaps, refreshes the conversation list and flushes the outbox.
 */
import { SUBSCRIBE_ENTRIES_PER_FRAME, type Command, type ErrorBody, type Mention, type SearchHit, type ServerFrame, type ThreadListEntry, type WireEvent } from '../protocol/index.js';
import { Attachments } from './attachments.js';
import type { BackoffOptions } from './backoff.js';
import { Connection, type ConnectionState, type TokenProvider, type WebSocketConstructor } from './connection.js';
import { Conversation } from './conversation.js';
import { ConversationList } from './conversation-list.js';
import { ExtensionHub, type ClientExtension } from './extension.js';
import { HttpApi, type ConversationSummary, type Fetch } from './http.js';
import { isLocalId, localIdFor, newCommandId } from './ids.js';
import { Signal, type Observable } from './observable.js';
import { Outbox, type OutboxItem } from './outbox.js';
import { PresenceBook, type Presence } from './presence.js';
import { Sender, type OutboxFailure } from './sender.js';
import { namespaced, type Storage } from './storage.js';

export interface ClientOptions {
  /** The node's base URL, e.g. `https://chat.example.com` (HTTP routes and `/v1/ws` hang off it). */
  url: string;
  /** Called before every connection attempt and HTTP request; may refresh the token. */
  token: TokenProvider;
  /** The signed-in user (the token's `sub`); the optimistic view shows pending posts as theirs. */
  userId: string;
  /** Where the outbox and cached conversations live; one storage per user. */
  storage: Storage;
  /** Defaults to the global `WebSocket` (browsers, Node ≥ 22); `node.ts` passes `ws`. */
  WebSocket?: WebSocketConstructor;
  fetch?: Fetch;
  backoff?: BackoffOptions;
  extensions?: ClientExtension[];
}

/** Opens the client: loads storage, attaches extensions, starts connecting. */
export async function createClient(options: ClientOptions): Promise<ParleyClient> {
  const client = new ParleyClient(options);
  await client.init();
  return client;
}

export class ParleyClient {
  readonly userId: string;
  /** connecting → online → offline (retrying) …; `stopped` after a final close code or `close()`. */
  readonly connection: Observable<ConnectionState>;
  /** Commands not yet acknowledged, oldest first. */
  readonly outbox: Observable<readonly OutboxItem[]>;
  /** Commands the server refused for good; they are gone from the outbox and the view. */
  readonly failures = new Signal<OutboxFailure>();
  /** Errors about subscriptions (e.g. `forbidden` after leaving a conversation). */
  readonly errors = new Signal<ErrorBody & { conversationId?: string }>();
  /** Users who share an open conversation with this one: online, or when last seen. */
  readonly presence: Observable<Record<string, Presence>>;
  readonly conversations: Observable<ConversationSummary[]>;
  /** Upload files and get download URLs (attachments.ts); attach with `conversation.send(text, { attachments })`. */
  readonly attachments: Attachments;

  private readonly storage: Storage;
  private readonly box: Outbox;
  private readonly http: HttpApi;
  private readonly conn: Connection;
  private readonly sender: Sender;
  private readonly list: ConversationList;
  private readonly open = new Map<string, Conversation>();
  private readonly opening = new Map<string, Promise<Conversation>>();
  private readonly people: PresenceBook;
  private readonly hub = new ExtensionHub();

  constructor(private readonly options: ClientOptions) {
    this.userId = options.userId;
    this.storage = options.storage;
    this.box = new Outbox(options.storage);
    this.outbox = this.box.items;
    this.http = new HttpApi(options.url, options.token, options.fetch);
    this.attachments = new Attachments(options.url, options.token);
    this.people = new PresenceBook(this.http);
    this.presence = this.people.people;
    const WebSocketImpl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WebSocketImpl) throw new TypeError('No WebSocket implementation: pass one (Node: import from client-lib/node.js)');
    this.conn = new Connection({ url: options.url, token: options.token, WebSocket: WebSocketImpl, backoff: options.backoff, onFrame: (f) => this.onFrame(f) });
    this.connection = this.conn.state;
    this.sender = new Sender(this.box, this.conn, {
      confirmed: (item, result) => {
        if (item.command.type === 'PostMessage') this.open.get(result.conversationId)?.confirmPost(item.id, item.command.text, result, item.createdAt);
      },
      acked: (item, result) => void this.acked(item, result.conversationId),
      failed: (failure) => this.failures.emit(failure),
    });
    this.list = new ConversationList(options.storage, this.http, this.box, options.userId);
    this.conversations = this.list.list;
    this.conn.state.subscribe((s) => {
      if (s.status !== 'online') this.sender.onDisconnect();
    });
  }

  /** @internal */
  async init(): Promise<void> {
    await this.box.load();
    await this.list.load();
    for (const key of await this.storage.keys('conv/')) {
      const id = key.slice('conv/'.length);
      // Left behind by a conversation created offline whose ack arrived before the record moved.
      if (isLocalId(id) && this.box.resolve(id)) await this.storage.delete(key);
      else await this.conversation(id);
    }
    for (const ext of this.options.extensions ?? []) await ext.attach(this.extensionContext(ext.name));
    this.conn.start();
  }

  /** Refetches the conversation list (needs the network). */
  refreshConversations(): Promise<ConversationSummary[]> {
    return this.list.refresh();
  }

  /**
   * Full-text search over this user's conversations (needs the network; rejects with a
   * `ParleyError` otherwise). A local id is searched as its server id once known.
   */
  search(q: string, options: { conversationId?: string; limit?: number } = {}): Promise<SearchHit[]> {
    const conversationId = options.conversationId === undefined ? undefined : (this.box.resolve(options.conversationId) ?? options.conversationId);
    return this.http.search(q, { ...options, ...(conversationId !== undefined && { conversationId }) });
  }

  /** The threads this user follows, most recent reply first, with unread replies (needs the network). */
  threads(limit = 50): Promise<ThreadListEntry[]> {
    return this.http.threads(limit);
  }

  /** Messages that mention this user, newest first, and how many are unread (needs the network). */
  mentions(page: { before?: number; limit?: number } = {}): Promise<{ mentions: Mention[]; unread: number }> {
    return this.http.mentions(page);
  }

  /**
   * Marks mentions read: in one conversation up to `seq`, or (no arguments) every unread
   * one of the newest page of the feed, one command per conversation through the outbox.
   */
  async markMentionsRead(conversationId?: string, seq?: number): Promise<string[]> {
    if (conversationId !== undefined && seq !== undefined) {
      return [await this.enqueue({ type: 'MarkMentionsRead', conversationId: this.box.resolve(conversationId) ?? conversationId, seq })];
    }
    const newest = new Map<string, number>();
    for (const m of (await this.http.mentions({ limit: 200 })).mentions) {
      if (!m.read && (conversationId === undefined || m.conversationId === conversationId)) newest.set(m.conversationId, Math.max(newest.get(m.conversationId) ?? 0, m.seq));
    }
    return Promise.all([...newest].map(([id, upTo]) => this.enqueue({ type: 'MarkMentionsRead', conversationId: id, seq: upTo })));
  }

  /** Creates a conversation, online or offline; returns its local id, usable at once. */
  async createConversation(title: string, members: string[]): Promise<string> {
    return localIdFor(await this.enqueue({ type: 'CreateConversation', title, members }));
  }

  /** The server id for a local id once its creation is acked (server ids map to themselves). */
  resolveId(id: string): string | undefined {
    return this.box.resolve(id);
  }

  /** Opens a conversation (server or local id): its messages, actions, catch-up. */
  conversation(id: string): Promise<Conversation> {
    const key = this.box.resolve(id) ?? id;
    const existing = this.open.get(key);
    if (existing) return Promise.resolve(existing);
    let opening = this.opening.get(key);
    if (!opening) {
      opening = this.openConversation(key).finally(() => this.opening.delete(key));
      this.opening.set(key, opening);
    }
    return opening;
  }

  private async openConversation(key: string): Promise<Conversation> {
    const conv = new Conversation(key, {
      userId: this.userId,
      storage: this.storage,
      outbox: this.box,
      http: this.http,
      enqueue: (c) => this.enqueue(c),
      sendNow: (f) => this.conn.send(f),
    });
    await conv.load(this.list.find(key)?.lastSeq ?? 0);
    // Its creation may have been acked while it loaded.
    const created = isLocalId(key) ? this.box.resolve(key) : undefined;
    if (created) await conv.rebind(created);
    this.open.set(conv.id, conv);
    if (!isLocalId(conv.id) && this.conn.send({ type: 'subscribe', conversations: [{ conversationId: conv.id, afterSeq: conv.lastSeq }] })) {
      if (conv.hasOlder && conv.messages.get().length === 0) await conv.loadOlder().catch(() => false);
      void this.people.seed(conv.id);
    }
    return conv;
  }

  /** Closes the socket and stops reconnecting (as if the network went away) until `goOnline()`. */
  goOffline(): void {
    this.conn.stop('offline');
  }

  goOnline(): void {
    this.conn.start();
  }

  /** Stops the client; what it holds stays in storage (the app closes the storage). */
  async close(): Promise<void> {
    this.conn.stop();
    await this.box.flushed();
    await Promise.all([...this.open.values()].map((c) => c.flushed()));
    for (const ext of this.options.extensions ?? []) await ext.detach?.();
  }

  private async enqueue(command: Command): Promise<string> {
    const id = newCommandId();
    await this.box.add({ id, command, createdAt: Date.now() });
    this.sender.kick();
    return id;
  }

  private onFrame(f: ServerFrame): void {
    switch (f.type) {
      case 'ready':
        this.onReady();
        break;
      case 'event':
        this.open.get(f.event.conversationId)?.applyEvent(f.event as WireEvent);
        break;
      case 'events':
        for (const e of f.events) this.open.get(f.conversationId)?.applyEvent(e as WireEvent);
        break;
      case 'behind':
        void this.open.get(f.conversationId)?.behind(f.afterSeq, f.headSeq).catch(() => undefined);
        break;
      case 'ack':
        this.sender.onReply(f);
        break;
      case 'error':
        if (f.id) this.sender.onReply(f);
        else this.errors.emit({ code: f.code, message: f.message, ...(f.conversationId ? { conversationId: f.conversationId } : {}) });
        if (f.conversationId && (f.code === 'unavailable' || f.code === 'internal')) this.resubscribeLater(f.conversationId);
        break;
      case 'presence':
        this.people.onFrame(f);
        break;
      case 'typing':
        if (f.userId !== this.userId) this.open.get(f.conversationId)?.someoneTyping(f.userId);
        break;
      default:
        break;
    }
    this.hub.frame(f);
  }

  private onReady(): void {
    const conversations = [...this.open.values()].filter((c) => !isLocalId(c.id)).map((c) => ({ conversationId: c.id, afterSeq: c.lastSeq }));
    for (let i = 0; i < conversations.length; i += SUBSCRIBE_ENTRIES_PER_FRAME) {
      this.conn.send({ type: 'subscribe', conversations: conversations.slice(i, i + SUBSCRIBE_ENTRIES_PER_FRAME) });
    }
    for (const c of this.open.values()) {
      void c.fillGaps().catch(() => undefined);
      if (!isLocalId(c.id)) void this.people.seed(c.id);
    }
    void this.list.refresh().catch(() => undefined);
    this.hub.ready();
    this.sender.kick();
  }

  /**
   * The node ended a subscription for a reason that is not ours (its store or read models
   * were unavailable): subscribe again from the last seq after a jittered pause, once per error.
   */
  private resubscribeLater(conversationId: string): void {
    const timer = setTimeout(() => {
      const conv = this.open.get(conversationId);
      if (conv) this.conn.send({ type: 'subscribe', conversations: [{ conversationId, afterSeq: conv.lastSeq }] });
    }, 500 + Math.random() * 1500);
    timer.unref?.();
  }

  private async acked(item: OutboxItem, conversationId: string): Promise<void> {
    // Membership is shown from the list: refetch it so the change shows without waiting.
    if (item.command.type === 'AddMember' || item.command.type === 'RemoveMember') return void (await this.list.refresh().catch(() => undefined));
    if (item.command.type !== 'CreateConversation') return;
    const local = localIdFor(item.id);
    const conv = this.open.get(local);
    if (conv) {
      this.open.delete(local);
      this.open.set(conversationId, conv);
      await conv.rebind(conversationId);
      this.conn.send({ type: 'subscribe', conversations: [{ conversationId, afterSeq: conv.lastSeq }] });
      void this.people.seed(conversationId);
    }
    await this.list.refresh().catch(() => undefined);
  }

  private extensionContext(name: string) {
    return this.hub.context({
      userId: this.userId,
      url: this.options.url,
      token: this.options.token,
      storage: namespaced(this.storage, `ext/${name}/`),
      connection: this.connection,
      send: (frame) => this.conn.send(frame),
      resolveId: (id) => this.box.resolve(id),
    });
  }
}
