/**
 * Attachments in the web app, in real Chromium against a real node: one person attaches
 * an image and a text file with the Attach button and sends; the other sees the image as
 * a thumbnail (sized from its known dimensions, loaded through a signed URL) and the file
 * as a link.
 */
import { crc32, deflateSync } from 'node:zlib';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../helpers/chromium.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { startTestNode, type TestNode } from '../helpers/node.js';
import { buildWebApp } from '../helpers/web-app.js';

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

let node: TestNode;
let web: Awaited<ReturnType<typeof buildWebApp>>;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  web = await buildWebApp();
  node = await startTestNode({ devLogin: true, webDir: web.path });
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await node?.destroy();
  web?.remove();
});

async function signIn(name: string): Promise<{ page: Page; problems: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
  contexts.push(context);
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${String(e)}`));
  await page.goto(node.url + '/');
  await page.getByLabel('Your name').fill(name);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('.connection[data-status=online]').waitFor();
  return { page, problems };
}

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
