/**
 * The web app's entry: signs in (a token from the embedding app, the saved session, or a
 * name in development), then starts the chat shell. A service worker keeps the page's
 * files, so the app opens, and shows what it holds, without a network.
 */
import type { ParleyClient } from '../client-lib/index.js';
import { startChat } from './chat.js';
import { h, fill } from './dom.js';
import { forget, fromFragment, save, saved, tokenProvider, type Session } from './session.js';
import { signInView } from './sign-in.js';

const root = document.getElementById('app')!;

if ('serviceWorker' in navigator) navigator.serviceWorker.register('/sw.js').catch((err: unknown) => console.warn('no offline start:', err));

let client: ParleyClient | undefined;

function signOut(): void {
  forget();
  void client?.close().finally(() => location.reload());
}

function start(session: Session): void {
  save(session);
  const tokens = tokenProvider(session);
  // An embedding app renews the token: `iframe.contentWindow.postMessage({ type: 'parley-token', token }, origin)`.
  addEventListener('message', (e: MessageEvent) => {
    const data = e.data as { type?: unknown; token?: unknown } | null;
    if (e.source === parent && parent !== window && data?.type === 'parley-token' && typeof data.token === 'string') tokens.replace(data.token);
  });
  startChat(root, session, tokens.get, signOut).then(
    (c) => {
      client = c;
      (window as { parleyClient?: ParleyClient }).parleyClient = c;
    },
    (err: unknown) => fill(root, h('p', { class: 'problem', role: 'alert' }, `Could not start: ${err instanceof Error ? err.message : String(err)}`)),
  );
}

const session = fromFragment() ?? saved();
if (session) start(session);
else fill(root, signInView(start));
