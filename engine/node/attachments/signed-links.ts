/**
 * Download links: `/v1/attachments/<attachmentId>?c=<conversation>&u=<user>&e=<expiry>&s=<sig>`
 * where sig = HMAC-SHA256(secret, conversation ␀ attachment ␀ user ␀ expiry), base64url.
 * The link names its user so the download can check that user is still a member: a link
 * handed on, or kept by someone removed since, stops working at once, not at expiry.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ParleyError } from '../../../protocol/index.js';

export interface LinkTarget {
  conversationId: string;
  attachmentId: string;
  userId: string;
}

function signature(secret: string, t: LinkTarget, expiresAt: number): string {
  return createHmac('sha256', secret).update(`${t.conversationId}\u0000${t.attachmentId}\u0000${t.userId}\u0000${expiresAt}`).digest('base64url');
}

export function signLink(secret: string, t: LinkTarget, expiresAt: number): string {
  const q = new URLSearchParams({ c: t.conversationId, u: t.userId, e: String(expiresAt), s: signature(secret, t, expiresAt) });
  return `/v1/attachments/${encodeURIComponent(t.attachmentId)}?${q}`;
}

/** The link's target if its signature holds and it has not expired; `link_expired` otherwise (one answer for both). */
export function verifyLink(secret: string, attachmentId: string, q: { c: string; u: string; e: string; s: string }, now = Date.now()): LinkTarget {
  const expiresAt = /^\d{1,15}$/.test(q.e) ? Number(q.e) : NaN;
  const target = { conversationId: q.c, attachmentId, userId: q.u };
  const expected = Buffer.from(signature(secret, target, expiresAt));
  const given = Buffer.from(q.s);
  const valid = given.length === expected.length && timingSafeEqual(given, expected);
  if (!valid || !(expiresAt > now)) throw new ParleyError('link_expired');
  return target;
}
