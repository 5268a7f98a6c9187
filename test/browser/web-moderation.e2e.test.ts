/**
 * Roles and moderation in the web app (web/), in real Chromium against a real node: the
 * owner makes a member admin; the admin mutes a third user, whose page then says why they
 * cannot post and offers no composer; that user reports a message, which shows in the
 * admin's queue and is resolved there; the admin bans them and their page loses the
 * conversation. A guest's page never offers a composer.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { api } from '../helpers/http.js';
import { tokenFor } from '../helpers/node.js';
import { webPages } from '../helpers/web-pages.js';

const pages = webPages();
const problems: string[][] = [];

async function signIn(name: string): Promise<Page> {
  const signedIn = await pages.signIn(name, { width: 1280, height: 800 });
  problems.push(signedIn.problems);
  return signedIn.page;
}

/** Opens the conversation from the side bar (the list picks a new one up within its refresh). */
async function open(page: Page, title: string): Promise<void> {
  await page.locator('.conversations .conversation', { hasText: title }).click({ timeout: 20_000 });
  await page.locator('.conversation-header h2', { hasText: title }).waitFor();
}

const member = (page: Page, userId: string) => page.locator(`.members .member[data-user="${userId}"]`);
const button = (scope: ReturnType<Page['locator']>, name: string) => scope.getByRole('button', { name, exact: true });

describe('roles and moderation in the web app', () => {
  it('promotes, mutes, takes a report to resolution and bans, each page showing what it may do', async () => {
    const [alice, bob, carol] = [await signIn('alice'), await signIn('bob'), await signIn('carol')];
    await alice.locator('#new-title').fill('Moderated');
    await alice.locator('#new-members').fill('bob, carol');
    await alice.getByRole('button', { name: 'Create' }).click();
    await alice.locator('.conversation-view').waitFor();
    await alice.locator('#composer').fill('house rules: be kind');
    await alice.locator('#composer').press('Enter');
    await alice.locator('.message:not(.pending) .text', { hasText: 'house rules' }).waitFor();

    // Every page lists each member's role; only the owner has controls, and a member has no Reports.
    await member(alice, 'alice').locator('.role', { hasText: 'owner' }).waitFor();
    await open(bob, 'Moderated');
    await open(carol, 'Moderated');
    await member(carol, 'bob').locator('.role', { hasText: 'member' }).waitFor();
    expect(await carol.locator('.member-actions').count()).toBe(0);
    expect(await button(carol.locator('.conversation-header'), 'Reports').isVisible()).toBe(false);

    // The owner makes bob an admin: bob's page now shows his role and his tools.
    await member(alice, 'bob').getByLabel('Role of bob').selectOption('admin');
    await button(member(alice, 'bob'), 'Set role').click();
    await member(bob, 'bob').locator('.role', { hasText: 'admin' }).waitFor();
    await button(bob.locator('.conversation-header'), 'Reports').waitFor();
    // An admin acts on members, not on the owner.
    expect(await member(bob, 'alice').locator('.member-actions').count()).toBe(0);

    // The admin mutes carol: her page says why she cannot post, and offers no composer.
    await button(member(bob, 'carol'), 'Mute').click();
    await carol.locator('.cannot-post', { hasText: 'You are muted here until' }).waitFor();
    expect(await carol.locator('#composer').isVisible()).toBe(false);
    await member(alice, 'carol').locator('.muted-badge').waitFor();

    // Muted, she can still report: the report reaches the admin's queue, and he resolves it.
    await button(carol.locator('.message', { hasText: 'house rules' }), 'Report').click();
    await carol.getByLabel('Reason for the report').fill('too bossy');
    await button(carol.locator('.report-bar'), 'Send report').click();
    await button(bob.locator('.conversation-header'), 'Reports').click();
    const report = bob.locator('.reports .report', { hasText: 'house rules' });
    await report.locator('.reasons', { hasText: 'carol: too bossy' }).waitFor();
    await button(report, 'Resolve').click();
    await report.waitFor({ state: 'detached' });
    await bob.locator('.reports .empty', { hasText: 'No open reports.' }).waitFor();
    const conversationId = decodeURIComponent(new URL(bob.url()).hash.replace('#c=', ''));
    const { body: resolved } = await api(pages.node.url, tokenFor('alice')).get(`/v1/conversations/${conversationId}/reports?status=resolved`);
    expect(resolved.reports.map((r: { reportedBy: string; resolution: { outcome: string; resolvedBy: string } }) => [r.reportedBy, r.resolution.outcome, r.resolution.resolvedBy])).toEqual([
      ['carol', 'resolved', 'bob'],
    ]);

    // The admin bans carol: her page loses the conversation, the admin's lists the ban.
    await button(member(bob, 'carol'), 'Ban').click();
    await carol.locator('.removed', { hasText: 'You are no longer a member of “Moderated”' }).waitFor();
    await carol.locator('.conversations .conversation', { hasText: 'Moderated' }).waitFor({ state: 'detached' });
    expect(await carol.locator('.conversation-view').count()).toBe(0);
    await bob.locator('.bans li[data-user=carol]').waitFor();
    expect(problems.flat()).toEqual([]);
  }, 120_000);

  it('shows a guest no composer, and says why', async () => {
    const { body: c } = await api(pages.node.url, tokenFor('olga')).post('/v1/conversations', { title: 'Read only', members: ['gus'] });
    expect((await api(pages.node.url, tokenFor('olga')).raw('PUT', `/v1/conversations/${c.id}/members/gus/role`, { role: 'guest' })).status).toBe(200);
    const gus = await signIn('gus');
    await open(gus, 'Read only');
    await gus.locator('.cannot-post', { hasText: 'You are a guest here' }).waitFor();
    expect(await gus.locator('#composer').isVisible()).toBe(false);
    await member(gus, 'gus').locator('.role', { hasText: 'guest' }).waitFor();
    expect(problems.flat()).toEqual([]);
  }, 60_000);
});
