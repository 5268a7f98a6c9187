/** Attachment file handling without I/O: image sizes from hostile headers, type sniffing, signed links, file names. */
import { describe, expect, it } from 'vitest';
import { imageSize, signLink, sniff, storedType, verifyLink } from '../../engine/node/attachments/index.js';
import { fileName } from '../../engine/node/attachments/upload.js';
import { seededRandom, seedFrom } from '../helpers/seeded-random.js';
import { gifHeader, jpegHeader, pngHeader, webpHeader } from '../helpers/attachments.js';

const ALLOWED = ['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'text/plain', 'application/octet-stream'];

describe('image sizes', () => {
  it('reads PNG, GIF, JPEG and WebP headers', () => {
    expect(imageSize('image/png', pngHeader(640, 480))).toEqual({ width: 640, height: 480 });
    expect(imageSize('image/gif', gifHeader(31, 7))).toEqual({ width: 31, height: 7 });
    expect(imageSize('image/jpeg', jpegHeader(1920, 1080))).toEqual({ width: 1920, height: 1080 });
    expect(imageSize('image/webp', webpHeader(300, 200))).toEqual({ width: 300, height: 200 });
  });

  it('answers undefined, never throws or hangs, on truncated, zero-sized and random headers', () => {
    expect(imageSize('image/png', pngHeader(0, 10))).toBeUndefined();
    expect(imageSize('image/jpeg', jpegHeader(100, 100).subarray(0, 25))).toBeUndefined();
    // A segment length of 0 or 1 would walk backwards: refused.
    expect(imageSize('image/jpeg', Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x00, 0xff, 0xc0]))).toBeUndefined();
    const seed = seedFrom('ATTACHMENT_FUZZ_SEED');
    console.log(`image header fuzz seed ${seed} (replay: ATTACHMENT_FUZZ_SEED=${seed})`);
    const rng = seededRandom(seed);
    const random = () => rng.next();
    for (let i = 0; i < 2000; i++) {
      const base = [pngHeader(5, 5), gifHeader(5, 5), jpegHeader(5, 5), webpHeader(5, 5)][i % 4]!;
      const b = Buffer.from(base.subarray(0, Math.floor(random() * (base.length + 1))));
      for (let j = 0; j < b.length; j++) if (random() < 0.2) b[j] = Math.floor(random() * 256);
      for (const type of ['image/png', 'image/gif', 'image/jpeg', 'image/webp']) {
        expect(() => imageSize(type, b), `seed ${seed}`).not.toThrow();
      }
    }
  });
});

describe('stored types', () => {
  it('trusts the bytes over the claim, and refuses an image claim the bytes do not back', () => {
    expect(sniff(pngHeader(1, 1))).toBe('image/png');
    expect(storedType('application/octet-stream', pngHeader(1, 1), ALLOWED)).toBe('image/png');
    expect(storedType('image/jpeg', pngHeader(1, 1), ALLOWED)).toBe('image/png');
    expect(storedType('text/plain', Buffer.from('hello'), ALLOWED)).toBe('text/plain');
    expect(() => storedType('image/png', Buffer.from('<svg onload=alert(1)>'), ALLOWED)).toThrow(/not a image\/png/);
    expect(() => storedType('application/octet-stream', Buffer.from('%PDF-1.7'), ALLOWED)).toThrow(/application\/pdf is not accepted/);
    expect(storedType('application/octet-stream', Buffer.from('%PDF-1.7'), ['application/*'])).toBe('application/pdf');
  });
});

describe('signed links', () => {
  const secret = 'a-secret-of-some-length';
  const target = { conversationId: 'c1', attachmentId: 'a1', userId: 'bob' };
  const query = (url: string) => Object.fromEntries(new URL(url, 'http://x').searchParams) as { c: string; u: string; e: string; s: string };

  it('verifies its own link until it expires', () => {
    const url = signLink(secret, target, 10_000);
    expect(url.startsWith('/v1/attachments/a1?')).toBe(true);
    expect(verifyLink(secret, 'a1', query(url), 9_999)).toEqual(target);
    expect(() => verifyLink(secret, 'a1', query(url), 10_000)).toThrow(/expired/);
  });

  it('refuses any changed part, and another secret', () => {
    const q = query(signLink(secret, target, 10_000));
    expect(() => verifyLink(secret, 'a2', q, 0)).toThrow(/expired/);
    expect(() => verifyLink(secret, 'a1', { ...q, c: 'c2' }, 0)).toThrow(/expired/);
    expect(() => verifyLink(secret, 'a1', { ...q, u: 'eve' }, 0)).toThrow(/expired/);
    expect(() => verifyLink(secret, 'a1', { ...q, e: '20000' }, 0)).toThrow(/expired/);
    expect(() => verifyLink(secret, 'a1', { ...q, e: 'NaN' }, 0)).toThrow(/expired/);
    expect(() => verifyLink('another-secret-entirely', 'a1', q, 0)).toThrow(/expired/);
  });
});

describe('file names', () => {
  it('keeps the base name, without control or direction characters, bounded', () => {
    expect(fileName('../../etc/passwd')).toBe('passwd');
    expect(fileName('C:\\Users\\me\\cat.png')).toBe('cat.png');
    expect(fileName('evil\u202egnp.exe')).toBe('evilgnp.exe');
    expect(fileName('a\u0000b\nc')).toBe('abc');
    expect(fileName('..')).toBe('file');
    expect(fileName(undefined)).toBe('file');
    expect(fileName('x'.repeat(1000))).toHaveLength(255);
  });
});
