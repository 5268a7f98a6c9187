/**
 * The web app (web/) in real Chromium, served by a real node at `/`: people sign in by
 * name (the dev token route), chat both ways, see typing and presence, react and delete,
 * and unread counts move; one goes offline, writes, reloads offline (the service worker
 * serves the page, IndexedDB the queue) and comes back, and every message lands once, in
 * server order, on both pages; XSS payloads stay text. The first test takes the README's
 * screenshot (a chat with notes open); with PARLEY_SCREENSHOT=1 it writes it to
 * docs/screenshot.png, otherwise to a temp file, so a test run leaves the checkout as it was.
 */
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { tokenFor } from '../helpers/node.js';
import { webPages, type SignedIn } from '../helpers/web-pages.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCREENSHOT = process.env.PARLEY_SCREENSHOT === '1' ? `${ROOT}docs/screenshot.png` : join(tmpdir(), `parley-web-screenshot-${process.pid}.png`);

const pages = webPages();
type Person = SignedIn;
const signIn = (name: string): Promise<Person> => pages.signIn(name);

async function createConversation(p: Person, title: string, members: string): Promise<void> {
  await p.page.locator('#new-title').fill(title);
  await p.page.locator('#new-members').fill(members);
  await p.page.getByRole('button', { name: 'Create' }).click();
  await p.page.locator('.conversation-view').waitFor();
}

async function send(p: Person, text: string): Promise<void> {
  await p.page.locator('#composer').fill(text);
  await p.page.locator('#composer').press('Enter');
}

function messageTexts(p: Person): Promise<string[]> {
  return p.page.locator('.messages .message .text').allTextContents();
}

/** The notes' text as the editor shows it, without the other people's cursor labels. */
function notesText(p: Person): Promise<string> {
  return p.page.locator('.notes .cm-content').evaluate((el) => {
    const copy = el.cloneNode(true) as HTMLElement;
    copy.querySelectorAll('.cm-ySelectionCaret').forEach((c) => c.remove());
    return Array.from(copy.querySelectorAll('.cm-line'), (l) => l.textContent).join('\n');
  });
}

/** The list entry for a title, in the side bar. */
function entry(p: Person, title: string) {
  return p.page.locator('.conversations .conversation').filter({ has: p.page.locator('.title', { hasText: title }) });
}

describe('the web app in Chromium', () => {
  it('two people chat both ways, see typing and presence, react, edit and delete; unread counts move', async () => {
    const alice = await signIn('alice');
    const bob = await signIn('bob');
    await createConversation(alice, 'Plans', 'bob');
    await send(alice, 'hi bob');
    await alice.page.locator('.message:not(.pending) .text', { hasText: 'hi bob' }).waitFor();

    // Bob's list picks the new conversation up with one unread; opening it reads it.
    await entry(bob, 'Plans').locator('.badge.unread', { hasText: '1' }).waitFor({ timeout: 20_000 });
    await entry(bob, 'Plans').click();
    await bob.page.locator('.message .text', { hasText: 'hi bob' }).waitFor();
    await entry(bob, 'Plans').locator('.badge.unread').waitFor({ state: 'detached' });

    // Presence both ways; typing shows on the other side.
    await alice.page.locator('.member.online[data-user=bob]').waitFor();
    await bob.page.locator('.member.online[data-user=alice]').waitFor();
    await bob.page.locator('#composer').pressSequentially('hel');
    await alice.page.locator('.typing', { hasText: 'bob is typing' }).waitFor();
    await bob.page.locator('#composer').fill('');
    await send(bob, 'hello alice');
    await alice.page.locator('.message .text', { hasText: 'hello alice' }).waitFor();

    // A reaction and a delete travel to the other page.
    await alice.page.locator('.message', { hasText: 'hello alice' }).getByRole('button', { name: 'React 👍' }).click();
    await bob.page.locator('.message', { hasText: 'hello alice' }).locator('.reaction', { hasText: '👍 1' }).waitFor();
    // Editing her own message: the merged text reaches Bob; his own messages offer no Edit.
    expect(await bob.page.locator('.message', { hasText: 'hi bob' }).getByRole('button', { name: 'Edit' }).count()).toBe(0);
    await alice.page.locator('.message', { hasText: 'hi bob' }).getByRole('button', { name: 'Edit' }).click();
    await alice.page.locator('#composer').fill('hi bob, see you at 6');
    await alice.page.locator('#composer').press('Enter');
    await bob.page.locator('.message .text', { hasText: 'hi bob, see you at 6' }).waitFor();
    await alice.page.locator('.message .text', { hasText: 'hi bob, see you at 6' }).waitFor();
    await send(alice, 'oops, wrong room');
    await bob.page.locator('.message .text', { hasText: 'oops, wrong room' }).waitFor();
    await alice.page.locator('.message', { hasText: 'oops, wrong room' }).getByRole('button', { name: 'Delete' }).click();
    await bob.page.locator('.message.deleted .text', { hasText: 'message deleted' }).waitFor();
    expect(await bob.page.locator('.message .text', { hasText: 'oops, wrong room' }).count()).toBe(0);

    // Keyboard: a reaction button pressed with Enter keeps its focus through the re-render.
    await bob.page.locator('.message', { hasText: 'hello alice' }).getByRole('button', { name: 'React ❤️' }).focus();
    await bob.page.keyboard.press('Enter');
    await alice.page.locator('.message', { hasText: 'hello alice' }).locator('.reaction', { hasText: '❤️ 1' }).waitFor();
    await bob.page.locator('.message', { hasText: 'hello alice' }).locator('.reaction', { hasText: '❤️ 1' }).waitFor();
    expect(await bob.page.evaluate(() => [(document.activeElement as HTMLElement | null)?.dataset.key, document.activeElement?.closest('.message')?.textContent ?? ''])).toEqual([
      'emoji:❤️',
      expect.stringContaining('hello alice'),
    ]);

    // Alice looks at another conversation: Bob's next message counts as unread in her list, live.
    await createConversation(alice, 'Elsewhere', 'carol');
    await send(bob, 'are you there?');
    await entry(alice, 'Plans').locator('.badge.unread', { hasText: '1' }).waitFor();
    await entry(alice, 'Plans').locator('.last', { hasText: 'bob: are you there?' }).waitFor();
    await entry(alice, 'Plans').click();
    await entry(alice, 'Plans').locator('.badge.unread').waitFor({ state: 'detached' });
    await alice.page.locator('.message .text', { hasText: 'are you there?' }).waitFor();

    // Adding a member: the header lists them once the server has it.
    await alice.page.getByLabel('Add a member').fill('carol');
    await alice.page.getByRole('button', { name: 'Add', exact: true }).click();
    await alice.page.locator('.members .member[data-user=carol]').waitFor();
    await bob.page.locator('.members .member[data-user=carol]').waitFor({ timeout: 20_000 });

    // Search finds Bob's message from Alice's side and opens its conversation.
    await entry(alice, 'Elsewhere').click();
    await alice.page.locator('#search').fill('alice');
    await alice.page.locator('#search').press('Enter');
    await alice.page.locator('.search-results .hit', { hasText: 'bob: hello [alice]' }).click();
    await alice.page.locator('.conversation-header h2', { hasText: 'Plans' }).waitFor();

    // Shared notes: both edit, both see the same text, and each sees the other's cursor by name.
    for (const p of [alice, bob]) {
      await p.page.getByRole('button', { name: 'Notes' }).click();
      await p.page.locator('.notes .cm-content').waitFor();
    }
    await alice.page.locator('.notes .cm-content').click();
    await alice.page.keyboard.type('Agenda: <b>venue</b>');
    await bob.page.locator('.notes .cm-content', { hasText: 'Agenda: <b>venue</b>' }).waitFor();
    await bob.page.locator('.notes .cm-content').click();
    await bob.page.keyboard.press('ControlOrMeta+End');
    await bob.page.keyboard.type(', food');
    for (const p of [alice, bob]) await eventually(async () => expect(await notesText(p)).toBe('Agenda: <b>venue</b>, food'));
    await alice.page.locator('.notes .cm-ySelectionInfo', { hasText: 'bob' }).waitFor();
    expect(await alice.page.locator('.notes b').count()).toBe(0);

    await alice.page.screenshot({ path: SCREENSHOT });
    expect(readFileSync(SCREENSHOT).subarray(1, 4).toString()).toBe('PNG');
    if (process.env.PARLEY_SCREENSHOT !== '1') rmSync(SCREENSHOT);
    expect(alice.problems).toEqual([]);
    expect(bob.problems).toEqual([]);
  }, 120_000);

  it('queues messages and notes edits offline, keeps them through a reload, delivers each message once in server order and merges the notes', async () => {
    const dora = await signIn('dora');
    const erin = await signIn('erin');
    await createConversation(dora, 'Offline test', 'erin');
    await send(dora, 'before');
    await dora.page.locator('.message:not(.pending) .text', { hasText: 'before' }).waitFor();
    await entry(erin, 'Offline test').click({ timeout: 20_000 });
    await erin.page.locator('.message .text', { hasText: 'before' }).waitFor();
    for (const p of [dora, erin]) {
      await p.page.getByRole('button', { name: 'Notes' }).click();
      await p.page.locator('.notes-status', { hasText: 'Synced' }).waitFor();
    }
    // The page must be in the service worker's hands before the network goes.
    await dora.page.waitForFunction(() => navigator.serviceWorker.controller !== null);

    await dora.context.setOffline(true);
    await dora.page.locator('.connection[data-status=offline]').waitFor();
    for (const text of ['one', 'two', 'three']) await send(dora, text);
    // Both edit the notes meanwhile: Dora offline, Erin online.
    await dora.page.locator('.notes .cm-content').click();
    await dora.page.keyboard.type('dora offline');
    await dora.page.locator('.notes-status', { hasText: 'Saved on this device' }).waitFor();
    await erin.page.locator('.notes .cm-content').click();
    await erin.page.keyboard.type('erin online');
    await erin.page.locator('.notes-status', { hasText: 'Synced' }).waitFor();
    await eventually(async () => expect(await dora.page.locator('.message.pending .text').allTextContents()).toEqual(['one', 'two', 'three']));
    await dora.page.locator('.outbox', { hasText: '3 waiting to send' }).waitFor();

    await dora.page.reload();
    await dora.page.locator('.conversation-view').waitFor();
    await eventually(async () => expect(await dora.page.locator('.message.pending .text').allTextContents()).toEqual(['one', 'two', 'three']));
    expect(await messageTexts(dora)).toEqual(['before', 'one', 'two', 'three']);
    expect(await dora.page.locator('.connection').getAttribute('data-status')).not.toBe('online');
    await dora.page.getByRole('button', { name: 'Notes' }).click();
    await eventually(async () => expect(await notesText(dora)).toBe('dora offline'));

    await dora.context.setOffline(false);
    const expected = ['before', 'one', 'two', 'three'];
    for (const p of [dora, erin]) {
      await eventually(async () => {
        expect(await messageTexts(p)).toEqual(expected);
        expect(await p.page.locator('.message.pending').count()).toBe(0);
      }, 30_000);
    }
    // The notes merged: both edits, the same text on both pages.
    await eventually(async () => {
      const [a, b] = [await notesText(dora), await notesText(erin)];
      expect(a).toBe(b);
      expect(a).toContain('dora offline');
      expect(a).toContain('erin online');
    }, 30_000);
    // Server order, once each, and the pages show the seqs the server gave.
    const conversationId = decodeURIComponent(new URL(dora.page.url()).hash.replace('#c=', ''));
    const server = (await api(pages.node.url, tokenFor('erin')).get(`/v1/conversations/${conversationId}/messages`)).body.messages as { seq: number; text: string }[];
    expect(server.map((m) => m.text)).toEqual(expected);
    for (const p of [dora, erin]) expect(await p.page.locator('.message').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-seq'))))).toEqual(server.map((m) => m.seq));
    expect(dora.problems).toEqual([]);
    expect(erin.problems).toEqual([]);
  }, 120_000);

  it('signs in with a token the embedding app puts in the fragment, offers Retry for a post the server refused, and fits a phone screen', async () => {
    const context = await pages.newContext();
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(String(e)));
    await page.goto(`${pages.node.url}/#token=${tokenFor('gina')}`);
    await page.locator('.connection[data-status=online]').waitFor();
    expect(await page.locator('.top .me').textContent()).toBe('gina');
    expect(new URL(page.url()).hash).not.toContain('token');
    const gina: Person = { context, page, problems };
    await createConversation(gina, 'Limits', 'hank');
    // Over the node's text bound (16 KiB): refused for good, shown with Retry and Discard.
    await page.locator('#composer').fill('x'.repeat(17 * 1024));
    await page.locator('#composer').press('Enter');
    await page.locator('.failed li', { hasText: 'not sent' }).getByRole('button', { name: 'Retry' }).waitFor();
    expect(await page.locator('.message.pending').count()).toBe(0);
    await page.locator('.failed li').getByRole('button', { name: 'Discard' }).click();
    expect(await page.locator('.failed li').count()).toBe(0);
    // Phone width: one column, nothing wider than the screen, the composer in reach.
    await page.setViewportSize({ width: 390, height: 800 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    const composer = await page.locator('#composer').boundingBox();
    expect(composer!.x + composer!.width).toBeLessThanOrEqual(390);
    expect(composer!.y + composer!.height).toBeLessThanOrEqual(800);
    expect(problems).toEqual([]);
  }, 60_000);

  it('shows XSS payloads in a message, a title and a name as text, and runs none of them', async () => {
    const payload = `<img src=x onerror="window.__xss=1;alert('xss')"><script>window.__xss=2</script>`;
    const evil = await signIn(`<img src=x onerror=alert(1)>`);
    const frank = await signIn('frank');
    await createConversation(evil, payload, 'frank');
    await send(evil, payload);
    await evil.page.locator('.message:not(.pending) .text').waitFor();
    await entry(frank, payload).click({ timeout: 20_000 });
    for (const p of [evil, frank]) {
      await p.page.locator('.message .text', { hasText: payload }).waitFor();
      expect(await p.page.locator('.conversation-header h2').textContent()).toBe(payload);
      expect(await p.page.locator('.message .author').first().textContent()).toBe('<img src=x onerror=alert(1)>');
      expect(await p.page.locator('.messages img, .conversations img, header img, .messages script').count()).toBe(0);
      expect(await p.page.evaluate(() => (window as { __xss?: unknown }).__xss)).toBeUndefined();
    }
    expect(await frank.page.locator('.member[data-user="<img src=x onerror=alert(1)>"]').count()).toBe(1);
    expect(evil.problems).toEqual([]);
    expect(frank.problems).toEqual([]);
  }, 120_000);
});
