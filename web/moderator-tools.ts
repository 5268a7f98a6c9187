/**
 * The owners' and admins' tools: change a member's role, mute until a time, ban, remove;
 * the bans with Unban; the reported messages with Resolve and Dismiss. Every action is a
 * command through the client's outbox: a refusal comes back as a failure the conversation
 * view shows.
 */
import type { Conversation, ModerationView, ReportEntry, Role } from '../client-lib/index.js';
import { h, fill } from './dom.js';
import { grantable, isModerator, mayActOn, mutedUntil, roleIn } from './moderation.js';

const HOUR_MS = 3_600_000;

/** What `me` may do to a member: set their role, mute until a time, ban, remove (nothing if `me` does not outrank them). */
export function memberActions(conv: Conversation, view: ModerationView | undefined, me: string, userId: string): HTMLElement | null {
  const mine = roleIn(view, me);
  const theirs = roleIn(view, userId);
  if (!theirs || userId === me || !mayActOn(mine, theirs)) return null;
  const label = (what: string) => `${what} ${userId}`;
  const roleSelect = h('select', { 'aria-label': label('Role of') }, grantable(mine).map((r) => h('option', { value: r, selected: r === theirs }, r)));
  const muteUntil = h('input', { type: 'datetime-local', 'aria-label': label('Mute until, for'), value: localInput(Date.now() + HOUR_MS) });
  const act = (p: Promise<string>) => void p.catch((err: unknown) => console.error('not stored', err));
  return h(
    'span',
    { class: 'member-actions' },
    roleSelect,
    h('button', { type: 'button', onclick: () => roleSelect.value !== theirs && act(conv.moderation.setRole(userId, roleSelect.value as Role)) }, 'Set role'),
    muteUntil,
    h('button', { type: 'button', onclick: () => act(conv.moderation.mute(userId, untilOf(muteUntil.value))) }, 'Mute'),
    mutedUntil(view, userId) !== undefined ? h('button', { type: 'button', onclick: () => act(conv.moderation.unmute(userId)) }, 'Unmute') : null,
    h('button', { type: 'button', class: 'danger', onclick: () => act(conv.moderation.ban(userId)) }, 'Ban'),
    h('button', { type: 'button', onclick: () => act(conv.removeMember(userId)) }, 'Remove'),
  );
}

/** The conversation's bans, with Unban for owners and admins. */
export function bansList(conv: Conversation, view: ModerationView | undefined, me: string): HTMLElement | null {
  if (!view || view.banned.length === 0 || !isModerator(roleIn(view, me))) return null;
  return h(
    'ul',
    { class: 'bans', 'aria-label': 'Banned' },
    view.banned.map((userId) =>
      h('li', { 'data-user': userId }, `${userId} (banned) `, h('button', { type: 'button', onclick: () => void conv.moderation.unban(userId).catch(() => undefined) }, `Unban ${userId}`)),
    ),
  );
}

/** The open reports of the conversation, one line per message, with Resolve and Dismiss; read again on `refresh()`. */
export function reportsPanel(conv: Conversation): { el: HTMLElement; refresh(): void } {
  const list = h('ul', { class: 'report-list' });
  const el = h('section', { class: 'reports', 'aria-label': 'Reported messages', hidden: true }, h('h3', {}, 'Reported messages'), list);
  let reading = false;
  let again = false;
  const refresh = (): void => {
    if (reading) return void (again = true);
    reading = true;
    again = false;
    conv.moderation
      .reports({ status: 'open', limit: 200 })
      .then(({ reports }) => render(reports), (err: unknown) => fill(list, h('li', { class: 'problem' }, `Cannot read the reports: ${err instanceof Error ? err.message : String(err)}`)))
      .finally(() => ((reading = false), again && refresh()));
  };
  const resolve = (messageId: string, outcome: 'resolved' | 'dismissed') => void conv.moderation.resolveReport(messageId, outcome).catch(() => undefined);
  const render = (reports: ReportEntry[]) => {
    const byMessage = new Map<string, ReportEntry[]>();
    for (const r of reports) byMessage.set(r.messageId, [...(byMessage.get(r.messageId) ?? []), r]);
    fill(
      list,
      byMessage.size === 0 ? h('li', { class: 'empty' }, 'No open reports.') : null,
      [...byMessage].map(([messageId, rs]) =>
        h(
          'li',
          { class: 'report', 'data-id': messageId },
          h('p', {}, h('span', { class: 'author' }, rs[0]!.author), ' ', rs[0]!.deleted ? 'message deleted' : rs[0]!.text),
          h('p', { class: 'reasons' }, rs.map((r) => `${r.reportedBy}: ${r.reason}`).join(' · ')),
          h('button', { type: 'button', onclick: () => resolve(messageId, 'resolved') }, 'Resolve'),
          h('button', { type: 'button', onclick: () => resolve(messageId, 'dismissed') }, 'Dismiss'),
        ),
      ),
    );
  };
  return { el, refresh };
}

/** A time as a datetime-local input holds it: local, to the minute. */
function localInput(ms: number): string {
  return new Date(ms - new Date(ms).getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

/** The input's time, or an hour from now when it holds none. */
function untilOf(value: string): number {
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) && ms > 0 ? ms : Date.now() + HOUR_MS;
}
