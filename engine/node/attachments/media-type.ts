/**
 * The media type an upload is stored under. The declared type (Content-Type) is a claim;
 * the first bytes are evidence. Known formats are stored under what the bytes are, and a
 * claim of an image that is not one is refused, so nothing served inline as an image can
 * be HTML or script in disguise. Downloads add nosniff and, for anything but images,
 * `Content-Disposition: attachment` (download-route.ts).
 */
import { ParleyError } from '../../../protocol/index.js';

const SIGNATURES: Array<{ type: string; at: number; bytes: string }> = [
  { type: 'image/png', at: 0, bytes: '\x89PNG\r\n\x1a\n' },
  { type: 'image/jpeg', at: 0, bytes: '\xff\xd8\xff' },
  { type: 'image/gif', at: 0, bytes: 'GIF87a' },
  { type: 'image/gif', at: 0, bytes: 'GIF89a' },
  { type: 'application/pdf', at: 0, bytes: '%PDF-' },
  { type: 'application/zip', at: 0, bytes: 'PK\x03\x04' },
];

/** Image types shown inline; every other type downloads as a file. */
export const INLINE_IMAGE_TYPES: ReadonlySet<string> = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

/** What the first bytes say the file is, for the formats known here. */
export function sniff(head: Buffer): string | undefined {
  if (head.length >= 12 && head.toString('latin1', 0, 4) === 'RIFF' && head.toString('latin1', 8, 12) === 'WEBP') return 'image/webp';
  for (const s of SIGNATURES) if (head.length >= s.at + s.bytes.length && head.toString('latin1', s.at, s.at + s.bytes.length) === s.bytes) return s.type;
  return undefined;
}

/** The declared Content-Type without parameters, lower case; undefined when it is not one. */
export function declaredType(header: string | undefined): string | undefined {
  const type = header?.split(';')[0]?.trim().toLowerCase();
  return type && /^[a-z0-9.+-]+\/[a-z0-9.+-]+$/.test(type) && type.length <= 100 ? type : undefined;
}

export function isAllowed(type: string, allowed: readonly string[]): boolean {
  const [major] = type.split('/');
  return allowed.some((a) => a === type || a === `${major}/*`);
}

/** The type to store the upload under, or a refusal (`attachment_type_refused`). */
export function storedType(declared: string, head: Buffer, allowed: readonly string[]): string {
  const sniffed = sniff(head);
  if (declared.startsWith('image/') && !(sniffed && INLINE_IMAGE_TYPES.has(sniffed))) {
    throw new ParleyError('attachment_type_refused', `The bytes are not a ${declared} image`);
  }
  const type = sniffed ?? declared;
  if (!isAllowed(type, allowed)) throw new ParleyError('attachment_type_refused', `${type} is not accepted here`);
  return type;
}
