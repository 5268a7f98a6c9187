/**
 * Roles and moderation in the open conversation view, loaded as a chunk when the first
 * conversation opens (the shell stays in its size budget): every member's role (and
 * mute), the owners' and admins' tools (moderator-tools.ts), the pinned messages, a form
 * to report a message, and, in place of the composer, why this user cannot post (a guest
 * reads only; a muted member until when; shown again when the mute ends).
 */
import type { Conversation, MessageView } from '../client-lib/index.js';
import { h, fill } from './dom.js';
import { cannotPost, followModeration, isModerator, roleBadges, roleIn } from './moderation.js';
import { bansList, memberActions, reportsPanel } from './moderator-tools.js';

export interface ModerationUi {
  /** A member's role and mute, and the actions `me` may take on them. */
  memberExtras(userId: string): (HTMLElement | null)[];
  bans(): HTMLElement | null;
  /** What the message list offers: moderators delete any message and pin; everyone reports others'. */
  forMessages(): { moderator: boolean; pinned: ReadonlySet<string>; report(m: MessageView): void };
  renderPinned(messages: MessageView[]): void;
  readonly pinned: HTMLElement;
  readonly reportBar: HTMLElement;
  readonly gate: HTMLElement;
  readonly reportsButton: HTMLElement;
  readonly reportsPanel: HTMLElement;
  destroy(): void;
}

export function moderationUi(conv: Conversation, me: string, view: { composer: HTMLElement; note: HTMLElement; changed(): void }): ModerationUi {
  const mod = followModeration(conv);
  const gate = h('p', { class: 'cannot-post', role: 'status', hidden: true });
  let gateTimer: ReturnType<typeof setTimeout> | undefined;
  const renderGate = () => {
    const why = cannotPost(mod.view.get(), me);
    gate.textContent = why ?? '';
    gate.hidden = why === undefined;
    view.composer.hidden = why !== undefined;
    clearTimeout(gateTimer);
    // A mute ends by itself: show the composer again then (a timer holds at most ~24.8 days).
    const left = (mod.view.get()?.members.find((m) => m.userId === me)?.mutedUntil ?? 0) - Date.now();
    if (left > 0 && left < 2 ** 31 - 1) gateTimer = setTimeout(renderGate, left + 50);
  };

  const reason = h('input', { id: `report-reason-${conv.id}`, maxlength: 1000, placeholder: 'Why?', 'aria-label': 'Reason for the report' });
  const reportTitle = h('span', {});
  let reporting: string | undefined;
  const stopReporting = () => ((reporting = undefined), (reportBar.hidden = true));
  const reportBar = h(
    'form',
    {
      class: 'report-bar',
      hidden: true,
      onsubmit: (e: Event) => {
        e.preventDefault();
        const why = reason.value.trim();
        if (!reporting || !why) return;
        conv.moderation.report(reporting, why).then(() => (view.note.textContent = 'Reported to the moderators.'), () => undefined);
        stopReporting();
      },
    },
    reportTitle,
    reason,
    h('button', { type: 'submit' }, 'Send report'),
    h('button', { type: 'button', onclick: stopReporting }, 'Cancel'),
  );
  const report = (m: MessageView) => {
    reporting = m.messageId;
    reportTitle.textContent = `Report ${m.author}'s message: `;
    reason.value = '';
    reportBar.hidden = false;
    reason.focus();
  };

  // Owners and admins: the reported messages, beside the chat like the notes.
  const reports = reportsPanel(conv);
  reports.el.id = `reports-${conv.id}`;
  const reportsButton = h('button', { type: 'button', class: 'reports-toggle', hidden: true, 'aria-expanded': 'false', 'aria-controls': reports.el.id }, 'Reports');
  reportsButton.addEventListener('click', () => {
    reports.el.hidden = !reports.el.hidden;
    reportsButton.setAttribute('aria-expanded', String(!reports.el.hidden));
    if (!reports.el.hidden) reports.refresh();
  });

  const pinned = h('ul', { class: 'pinned', 'aria-label': 'Pinned messages' });
  const moderator = () => isModerator(roleIn(mod.view.get(), me));
  const offs = [
    mod.view.subscribe(() => {
      reportsButton.hidden = !moderator();
      renderGate();
      view.changed();
    }),
    conv.moderation.changes.subscribe((e) => {
      if (!reports.el.hidden && (e.type === 'MessageReported' || e.type === 'ReportResolved' || e.type === 'MessageDeleted')) reports.refresh();
    }),
  ];
  return {
    memberExtras: (userId) => [...roleBadges(mod.view.get(), userId), memberActions(conv, mod.view.get(), me, userId)],
    bans: () => bansList(conv, mod.view.get(), me),
    forMessages: () => ({ moderator: moderator(), pinned: new Set(mod.view.get()?.pinned ?? []), report }),
    renderPinned: (messages) => {
      const shown = (mod.view.get()?.pinned ?? []).flatMap((id) => messages.filter((m) => m.messageId === id && !m.deleted));
      fill(pinned, shown.map((m) => h('li', { 'data-id': m.messageId }, '📌 ', h('span', { class: 'author' }, m.author), ' ', m.text)));
    },
    pinned,
    reportBar,
    gate,
    reportsButton,
    reportsPanel: reports.el,
    destroy: () => (offs.forEach((off) => off()), mod.destroy(), clearTimeout(gateTimer)),
  };
}
