/**
 * Threads and mentions in the web app, in real Chromium against a real node: a mention
 * is highlighted and counted in the mentions badge (a non-member's name stays plain);
 * a reply from the thread pane shows on the other page as a reply count that opens the
 * thread, and never as a message of the conversation.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { webPages } from '../helpers/web-pages.js';

const pages = webPages();

async function signIn(name: string, problems: string[][]): Promise<Page> {
  const signedIn = await pages.signIn(name, { width: 1200, height: 720 });
  problems.push(signedIn.problems);
  return signedIn.page;
}

describe('threads and mentions in the web app', () => {
  it('highlights a mention, counts it in the badge, and carries a thread reply across', async () => {
    const problems: string[][] = [];
    const alice = await signIn('alice', problems);
    const bob = await signIn('bob', problems);
    await alice.locator('#new-title').fill('Launch');
    await alice.locator('#new-members').fill('bob');
    await alice.getByRole('button', { name: 'Create' }).click();
    await alice.locator('.conversation-view').waitFor();
    await alice.locator('#composer').fill('@bob can you check? cc @nobody');
    await alice.locator('#composer').press('Enter');
    const root = alice.locator('.message:not(.pending)', { hasText: 'can you check' });
    await root.waitFor();
    expect(await root.locator('mark.mention').allTextContents()).toEqual(['@bob']);

    // Bob: one unread mention in the badge; in the conversation his name is marked as his.
    await bob.locator('.mentions-badge .count', { hasText: '1' }).waitFor({ timeout: 20_000 });
    await bob.locator('.conversations .conversation', { hasText: 'Launch' }).click();
    const bobsRoot = bob.locator('.message', { hasText: 'can you check' });
    await bobsRoot.locator('mark.mention.me', { hasText: '@bob' }).waitFor();

    // Bob replies in the thread pane.
    await bobsRoot.getByRole('button', { name: 'Reply' }).click();
    await bob.locator('.thread .thread-root', { hasText: 'can you check' }).waitFor();
    await bob.locator('#reply-composer').fill('on it');
    await bob.locator('#reply-composer').press('Enter');
    await bob.locator('.thread .reply:not(.pending) .text', { hasText: 'on it' }).waitFor();

    // Alice sees a reply count on her message, not a new message; it opens the thread.
    await root.locator('.thread-summary', { hasText: '1 reply' }).waitFor({ timeout: 20_000 });
    expect(await alice.locator('.messages .message .text').allTextContents()).toEqual(['@bob can you check? cc @nobody']);
    await root.locator('.thread-summary').click();
    await alice.locator('.thread .reply .text', { hasText: 'on it' }).waitFor();

    // The badge marks bob's mentions read.
    await bob.locator('.mentions-badge').click();
    await bob.locator('.mentions-badge').waitFor({ state: 'hidden' });
    expect(problems.flat()).toEqual([]);
  }, 120_000);
});
