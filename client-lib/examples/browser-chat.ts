/**
 * A browser app on `@parley/client`: the same client over the browser's WebSocket and
 * IndexedDB. test/e2e/client-package.e2e.test.ts type-checks it against the packed
 * package and bundles it with esbuild for the browser (no Node built-ins may be pulled in).
 */
import { createClient, IndexedDbStorage } from '@parley/client';
import { Documents } from '@parley/client/yjs';

// Stands in for asking your backend; called again before every reconnect.
async function fetchTokenFromMyBackend(): Promise<string> {
  const reply = await fetch('/my-backend/parley-token', { credentials: 'include' });
  return ((await reply.json()) as { token: string }).token;
}

const documents = new Documents(); // document sockets carry the token as `?token=`
const client = await createClient({
  url: location.origin,
  userId: 'alice',
  token: fetchTokenFromMyBackend,
  storage: await IndexedDbStorage.open('parley-alice'),
  extensions: [documents],
});

const list = document.querySelector('#messages')!;
const room = await client.conversation(new URLSearchParams(location.search).get('c') ?? '');
room.messages.subscribe((messages) => {
  list.replaceChildren(...messages.map((m) => Object.assign(document.createElement('li'), { textContent: m.pending ? `${m.text} …` : m.text })));
});
document.querySelector('form')!.addEventListener('submit', (e) => {
  e.preventDefault();
  const input = document.querySelector('input')!;
  void room.send(input.value).catch((err: unknown) => console.error('not stored', err));
  input.value = '';
});
const notes = documents.notes(room.id);
notes.doc.getText('text').observe(() => console.log('notes:', notes.doc.getText('text').toString()));
