/**
 * Attachments in the web app, in real Chromium against a real node: one person attaches
 * an image and a text file with the Attach button and sends; the other sees the image as
 * a thumbnail (sized from its known dimensions, loaded through a signed URL) and the file
 * as a link.
 */
import { crc32, deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { webPages } from '../helpers/web-pages.js';

/** A real, decodable RGBA PNG of `width` × `height` red pixels. */
function redPng(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), body.length + 4);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 6;
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(width * 4).fill(Buffer.from([255, 0, 0, 255]))]);
  const raw = Buffer.concat(Array.from({ length: height }, () => row));
  return Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

const pages = webPages();
const signIn = (name: string) => pages.signIn(name);

describe('web app attachments', () => {
  it('attaches an image and a file; the other member sees a thumbnail and a link', async () => {
    const ann = await signIn('ann');
    const ben = await signIn('ben');
    await ann.page.locator('#new-title').fill('Pictures');
    await ann.page.locator('#new-members').fill('ben');
    await ann.page.getByRole('button', { name: 'Create' }).click();
    await ann.page.locator('.conversation-view').waitFor();
    await ann.page.locator('.attach-input').setInputFiles([
      { name: 'red.png', mimeType: 'image/png', buffer: redPng(40, 20) },
      { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello notes') },
    ]);
    await eventually(async () => expect(await ann.page.locator('.attach-list li').count()).toBe(2), 30_000);
    await ann.page.locator('#composer').fill('two files');
    await ann.page.locator('#composer').press('Enter');

    await ben.page.locator('.conversations .conversation').filter({ has: ben.page.locator('.title', { hasText: 'Pictures' }) }).click();
    const img = ben.page.locator('.message .attachment.image img');
    await img.waitFor();
    expect(await img.getAttribute('width')).toBe('40');
    expect(await img.getAttribute('height')).toBe('20');
    await eventually(async () => expect(await img.evaluate((i) => (i as HTMLImageElement).naturalWidth)).toBe(40), 30_000);
    const file = ben.page.locator('.message a.attachment.file');
    await eventually(async () => expect(await file.getAttribute('href')).toMatch(/\/v1\/attachments\/.+\?c=/), 30_000);
    expect(await file.textContent()).toContain('notes.txt');
    expect([...ann.problems, ...ben.problems]).toEqual([]);
  }, 180_000);
});
