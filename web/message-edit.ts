/**
 * Editing a message you wrote: its body is a Yjs document (the author's devices write it);
 * the server appends each accepted edit as an event carrying the merged text, which every
 * client shows. Loaded lazily (this chunk holds Yjs). The edit waits for the body's first
 * sync: seeding it locally would need the text as first posted, which the view no longer
 * has once the message was edited, and a wrong seed would never merge.
 */
import type { Documents } from '../client-lib/yjs/index.js';

export { Documents } from '../client-lib/yjs/index.js';

const SYNC_WAIT_MS = 10_000;

export async function editMessage(documents: Documents, conversationId: string, messageId: string, next: string): Promise<void> {
  const body = documents.messageBody(conversationId, messageId);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('The edit needs the server: try again when online')), SYNC_WAIT_MS)));
  try {
    await Promise.race([body.whenSynced(), late]);
  } finally {
    clearTimeout(timer);
  }
  const text = body.doc.getText('text');
  const now = text.toString();
  // Only the changed middle is replaced, so an edit made meanwhile elsewhere in the text survives the merge.
  let start = 0;
  while (start < now.length && start < next.length && now[start] === next[start]) start += 1;
  let end = 0;
  while (end < now.length - start && end < next.length - start && now[now.length - 1 - end] === next[next.length - 1 - end]) end += 1;
  body.doc.transact(() => {
    text.delete(start, now.length - start - end);
    text.insert(start, next.slice(start, next.length - end));
  });
  await body.flush();
}
