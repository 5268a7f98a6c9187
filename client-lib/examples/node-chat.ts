/**
 * A Node app on `@parley/client`: alice opens a conversation with bob, says hello, reacts,
 * and edits her message's body with Yjs. client-lib/README.md quotes this file, and
 * test/e2e/client-package.e2e.test.ts type-checks it against the packed package and runs
 * it against a real node, so the README's example is one that works.
 *
 *   PARLEY_URL=http://localhost:8080 PARLEY_TOKEN=<alice's token> node node-chat.js
 */
import { createClient, FileStorage, nodeDocuments, when } from '@parley/client/node';

// Stands in for asking your backend; called again before every reconnect.
const fetchTokenFromMyBackend = async (): Promise<string> => process.env.PARLEY_TOKEN ?? '';

const documents = nodeDocuments(); // Yjs documents: message bodies, notes, drafts
const storage = await FileStorage.open('./alice.json'); // browsers: IndexedDbStorage.open('parley-alice')
const client = await createClient({
  url: process.env.PARLEY_URL ?? 'http://localhost:8080',
  userId: 'alice',
  token: fetchTokenFromMyBackend,
  storage,
  extensions: [documents],
});
client.connection.subscribe((s) => console.log('connection', s.status, s.close?.reason ?? '')); // connecting | online | offline | stopped
client.failures.subscribe((f) => console.warn('refused', f.code, f.item.command.type));
client.presence.subscribe((people) => console.log('online:', Object.keys(people).filter((u) => people[u]!.online).join(', ')));

const id = await client.createConversation('Team', ['bob']); // works offline: a local id until acked
const room = await client.conversation(id);
room.messages.subscribe((list) => console.log(list.map((m) => `${m.pending ? '…' : m.seq} ${m.text}`).join(' | '))); // ordered; pending posts at the end
await room.send('hello'); // durable in the outbox when this resolves
const [hello] = await when(room.messages, (list) => list.some((m) => !m.pending)); // acked: it has its seq
await room.react(hello!.messageId, '👍');
await room.loadOlder(); // history, one page further back
await room.markRead();
room.typingNow();

// Edit the body with Yjs; every member's message list shows the new text.
const conversationId = client.resolveId(id) ?? id; // server ids, once acked
const body = documents.messageBody(conversationId, hello!.messageId, hello!.text);
await body.whenSynced();
body.doc.getText('text').insert(hello!.text.length, ', bob');
await when(room.messages, (list) => list[0]?.text === 'hello, bob');

await when(client.outbox, (items) => items.length === 0); // everything acked
console.log(JSON.stringify({ conversationId, messages: room.messages.get() }));
await client.close();
await storage.close();
