/**
 * The message-body seed is a contract in bytes: the server replays every stored post as
 * `seedUpdate(text)` and clients make the same update for bodies they never synced. If
 * the bytes changed (another client id, two inserts instead of one, a Yjs upgrade that
 * encodes differently), bodies already edited on one side would no longer merge with
 * seeds made on the other: the posted text would show twice. So the bytes are pinned.
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { docNames, parseDocName } from '../../protocol/index.js';
import { SEED_CLIENT_ID, TEXT_NAME, seedMessageBody, seedUpdate } from '../../protocol/yjs/index.js';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe('message-body seed', () => {
  it('is the same bytes it has always been', () => {
    expect(SEED_CLIENT_ID).toBe(0);
    expect(TEXT_NAME).toBe('text');
    expect(hex(seedUpdate(''))).toBe('0000');
    expect(hex(seedUpdate('hello'))).toBe('01010000040104746578740568656c6c6f00');
    expect(hex(seedUpdate('héllo 👍\nzweite Zeile'))).toBe(
      '01010000040104746578741868c3a96c6c6f20f09f918d0a7a7765697465205a65696c6500',
    );
  });

  it('lets an edit made on a client-made seed merge into the server-made one, the text once', () => {
    const server = new Y.Doc();
    Y.applyUpdate(server, seedUpdate('hello'));

    const offline = new Y.Doc();
    seedMessageBody(offline, 'hello');
    offline.getText(TEXT_NAME).insert(5, ' world');

    Y.applyUpdate(server, Y.encodeStateAsUpdate(offline));
    seedMessageBody(server, 'hello'); // seeding again (another device, a reload) changes nothing
    expect(server.getText(TEXT_NAME).toString()).toBe('hello world');
  });
});

describe('document names', () => {
  it('parse back to what they name', () => {
    expect(parseDocName(docNames.messageBody('c1', 'm1'))).toEqual({ kind: 'message', conversationId: 'c1', messageId: 'm1' });
    expect(parseDocName(docNames.notes('c1'))).toEqual({ kind: 'notes', conversationId: 'c1' });
    expect(parseDocName(docNames.draft('a:b', 'c1'))).toEqual({ kind: 'draft', userId: 'a:b', conversationId: 'c1' });
  });
});
