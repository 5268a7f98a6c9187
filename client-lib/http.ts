/**
 * The HTTP half of the protocol the client needs: the conversation list and history
 * pages. Errors come back as `ParleyError` with the shared code.
 */
import {
  ParleyError,
  isErrorCode,
  type ConversationSummary as WireConversationSummary,
  type Mention,
  type ModerationQueue,
  type ModerationView,
  type ReportStatus,
  type SearchHit,
  type ThreadListEntry,
  type ThreadPage,
} from '../protocol/index.js';
import type { TokenProvider } from './connection.js';
import type { HistoryMessage } from './messages.js';

/** One entry of `GET /v1/conversations`, as the client keeps it. */
export interface ConversationSummary extends WireConversationSummary {
  /** True for a conversation created offline that the server has not acknowledged yet. */
  pending?: boolean;
}

export type Fetch = (input: string, init?: { headers?: Record<string, string> }) => Promise<{ ok: boolean; status: number; json(): Promise<unknown> }>;

export class HttpApi {
  constructor(
    private readonly baseUrl: string,
    private readonly token: TokenProvider,
    private readonly fetchImpl: Fetch = (input, init) => globalThis.fetch(input, init),
  ) {}

  async conversations(): Promise<ConversationSummary[]> {
    return (await this.get<{ conversations: ConversationSummary[] }>('/v1/conversations')).conversations;
  }

  /** A page of messages: `after` a seq (forwards) or `before` one (the page before it). */
  async messages(conversationId: string, page: { after?: number; before?: number; limit: number }): Promise<HistoryMessage[]> {
    const q = page.before !== undefined ? `before=${page.before}` : `after=${page.after ?? 0}`;
    const path = `/v1/conversations/${encodeURIComponent(conversationId)}/messages?${q}&limit=${page.limit}`;
    return (await this.get<{ messages: HistoryMessage[] }>(path)).messages;
  }

  /** Members of a conversation: online now, or when last seen. */
  async presence(conversationId: string): Promise<{ userId: string; online: boolean; lastSeen: number | null }[]> {
    return (await this.get<{ members: { userId: string; online: boolean; lastSeen: number | null }[] }>(`/v1/conversations/${encodeURIComponent(conversationId)}/presence`)).members;
  }

  /** Full-text search over the user's conversations (or one), newest first. */
  async search(q: string, options: { conversationId?: string; limit?: number } = {}): Promise<SearchHit[]> {
    const params = new URLSearchParams({ q });
    if (options.conversationId !== undefined) params.set('conversation', options.conversationId);
    if (options.limit !== undefined) params.set('limit', String(options.limit));
    return (await this.get<{ hits: SearchHit[] }>(`/v1/search?${params}`)).hits;
  }

  /** A conversation's roles, mutes, bans and pins. */
  async moderation(conversationId: string): Promise<ModerationView> {
    return this.get<ModerationView>(`/v1/conversations/${encodeURIComponent(conversationId)}/moderation`);
  }

  /** A page of the conversation's reports (its owners and admins only), oldest first. */
  async reports(conversationId: string, page: { status?: ReportStatus; after?: number; limit?: number } = {}): Promise<ModerationQueue> {
    const params = new URLSearchParams({ status: page.status ?? 'open', after: String(page.after ?? 0), limit: String(page.limit ?? 100) });
    return this.get<ModerationQueue>(`/v1/conversations/${encodeURIComponent(conversationId)}/reports?${params}`);
  }

  /** A thread's root and a page of its replies: `after` a seq, or `before` one. */
  async thread(conversationId: string, rootId: string, page: { after?: number; before?: number; limit: number }): Promise<ThreadPage> {
    const q = page.before !== undefined ? `before=${page.before}` : `after=${page.after ?? 0}`;
    return this.get<ThreadPage>(`/v1/conversations/${encodeURIComponent(conversationId)}/threads/${encodeURIComponent(rootId)}/messages?${q}&limit=${page.limit}`);
  }

  /** The threads the user follows, most recent reply first. */
  async threads(limit = 50): Promise<ThreadListEntry[]> {
    return (await this.get<{ threads: ThreadListEntry[] }>(`/v1/threads?limit=${limit}`)).threads;
  }

  /** The user's mentions, newest first (before a feed position), and how many are unread. */
  async mentions(page: { before?: number; limit?: number } = {}): Promise<{ mentions: Mention[]; unread: number }> {
    const params = new URLSearchParams({ limit: String(page.limit ?? 50) });
    if (page.before !== undefined) params.set('before', String(page.before));
    return this.get<{ mentions: Mention[]; unread: number }>(`/v1/mentions?${params}`);
  }

  private async get<T>(path: string): Promise<T> {
    const base = this.baseUrl.replace(/^ws/, 'http').replace(/\/$/, '');
    const res = await this.fetchImpl(base + path, { headers: { authorization: `Bearer ${await this.token()}` } });
    const body = (await res.json().catch(() => ({}))) as { code?: unknown; message?: string };
    if (!res.ok) throw new ParleyError(isErrorCode(body.code) ? body.code : 'internal', body.message);
    return body as T;
  }
}
