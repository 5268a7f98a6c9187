/**
 * The setting every web-app browser test shares: the app built from this checkout, a node
 * with dev sign-in serving it, one Chromium, and people signed in by name, each in their
 * own browser context. Registers its own beforeAll/afterAll; call it at the top of a file.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { launchChromium } from './chromium.js';
import { startTestNode, type TestNode } from './node.js';
import { buildWebApp } from './web-app.js';

export interface SignedIn {
  context: BrowserContext;
  page: Page;
  /** Uncaught page errors and dialogs (an XSS payload that ran would open one). */
  problems: string[];
}

export interface WebPages {
  readonly node: TestNode;
  signIn(name: string, viewport?: { width: number; height: number }): Promise<SignedIn>;
  /** A fresh browser context, closed with the rest (for pages that sign in another way). */
  newContext(): Promise<BrowserContext>;
}

export function webPages(): WebPages {
  let node: TestNode | undefined;
  let web: Awaited<ReturnType<typeof buildWebApp>> | undefined;
  let browser: Browser | undefined;
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

  return {
    get node() {
      return node!;
    },
    async newContext() {
      const context = await browser!.newContext();
      contexts.push(context);
      return context;
    },
    async signIn(name, viewport = { width: 1100, height: 720 }) {
      const context = await browser!.newContext({ viewport });
      contexts.push(context);
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(`${name} pageerror: ${String(e)}`));
      page.on('dialog', (d) => {
        problems.push(`${name} dialog: ${d.message()}`);
        void d.dismiss();
      });
      await page.goto(node!.url + '/');
      await page.getByLabel('Your name').fill(name);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.locator('.connection[data-status=online]').waitFor();
      return { context, page, problems };
    },
  };
}
