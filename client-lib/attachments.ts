/**
 * Attachments from the client: upload a file (a browser `File`/`Blob`, or bytes in Node)
 * to a conversation, then name its id in `conversation.send(text, { attachments })`; get a
 * short-lived download URL for an attachment a message carries (usable as `<img src>`).
 * Uploads go straight over HTTP, not through the outbox: the bytes are not kept offline.
 */
import { ParleyError, isErrorCode, type AttachmentRef } from '../protocol/index.js';
import type { TokenProvider } from './connection.js';

export type { AttachmentRef };

/** What an upload may be: a browser File or Blob, or bytes (a Node Buffer is a Uint8Array). */
export type UploadBody = Blob | Uint8Array | ArrayBuffer;

export interface UploadOptions {
  /** The file name to show (default: a File's own name, else `file`). */
  name?: string;
  /** The media type (default: a Blob's own type, else `application/octet-stream`); the node checks it against the bytes. */
  type?: string;
}

export interface DownloadLink {
  /** Absolute URL; works without a token until `expiresAt`, and only while you are a member. */
  url: string;
  expiresAt: number;
}

type UploadFetch = (input: string, init: { method?: string; headers: Record<string, string>; body?: Blob | Uint8Array | ArrayBuffer }) => Promise<{
  ok: boolean;
  status: number;
  json(): Promise<unknown>;
}>;

export class Attachments {
  private readonly base: string;

  constructor(
    baseUrl: string,
    private readonly token: TokenProvider,
    private readonly fetchImpl: UploadFetch = (input, init) => globalThis.fetch(input, init as RequestInit),
  ) {
    this.base = baseUrl.replace(/^ws/, 'http').replace(/\/$/, '');
  }

  /** Uploads a file; resolves with the attachment to name in a post. Refusals are `ParleyError`s (e.g. `attachment_too_large`). */
  async upload(conversationId: string, body: UploadBody, options: UploadOptions = {}): Promise<AttachmentRef> {
    const blob = typeof Blob !== 'undefined' && body instanceof Blob ? body : undefined;
    const name = options.name ?? (blob && 'name' in blob && typeof blob.name === 'string' ? blob.name : 'file');
    const type = options.type || blob?.type || 'application/octet-stream';
    const path = `/v1/conversations/${encodeURIComponent(conversationId)}/attachments?name=${encodeURIComponent(name)}`;
    const answer = await this.call<{ attachment: AttachmentRef }>(path, { method: 'POST', headers: { 'content-type': type }, body });
    return answer.attachment;
  }

  /** A signed URL to fetch the attachment's bytes. */
  async downloadUrl(conversationId: string, attachmentId: string): Promise<DownloadLink> {
    const path = `/v1/conversations/${encodeURIComponent(conversationId)}/attachments/${encodeURIComponent(attachmentId)}/url`;
    const link = await this.call<DownloadLink>(path, { headers: {} });
    return { url: this.base + link.url, expiresAt: link.expiresAt };
  }

  private async call<T>(path: string, init: { method?: string; headers: Record<string, string>; body?: UploadBody }): Promise<T> {
    const res = await this.fetchImpl(this.base + path, { ...init, headers: { ...init.headers, authorization: `Bearer ${await this.token()}` } });
    const answer = (await res.json().catch(() => ({}))) as { code?: unknown; message?: string };
    if (!res.ok) throw new ParleyError(isErrorCode(answer.code) ? answer.code : 'internal', answer.message);
    return answer as T;
  }
}
