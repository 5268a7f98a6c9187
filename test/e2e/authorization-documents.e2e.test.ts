/**
 * The authorization matrix over every kind of sync document, and the signaling topics that follow them.
 * Principals, fixture and expectation classes: test/helpers/authorization-matrix.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as encoding from 'lib0/encoding';
import WebSocket from 'ws';
import { docNames } from '../../sync/index.js';
import { eventually } from '../helpers/eventually.js';
import { insertUpdate, isStep2 } from '../helpers/hostile-sync.js';
import { connectSignaling } from '../helpers/signaling-client.js';
import { startMatrixNodes, PRINCIPALS, type Principal, type Fixture, MODES, node, MISSING, use, fixture, token, userOf, everyone, refused } from '../helpers/authorization-matrix.js';

startMatrixNodes();

type SyncExpect = 'unauthorized' | 'denied' | 'read' | 'write';

interface DocCase {
  /** The document, in the fixture's conversation or in `conversationId`. */
  name(fx: Fixture, conversationId: string): string;
  expect: Record<Principal, SyncExpect>;
}

const syncEveryone = (e: SyncExpect): Record<Principal, SyncExpect> => ({ ...everyone(e), ...refused });
const DOCUMENTS: Record<keyof typeof docNames, DocCase> = {
  // The conversation's notes: members read and write.
  notes: { name: (_fx, c) => docNames.notes(c), expect: { ...syncEveryone('denied'), member: 'write' } },
  // A message body by another author (the owner): members read, only the author writes.
  messageBody: {
    name: (fx, c) => docNames.messageBody(c, fx.ownerMessageId),
    expect: { ...syncEveryone('denied'), member: 'read' },
  },
  // Another user's (the owner's) draft: nobody else, members included.
  draft: { name: (fx, c) => docNames.draft(fx.users.owner, c), expect: { ...syncEveryone('denied') } },
};

interface SyncOutcome {
  closeCode?: number;
  closeReason?: string;
  /** HTTP status when the upgrade itself was refused. */
  status?: number;
  frames: Uint8Array[];
  synced: boolean;
}

async function openDoc(name: string, tokenValue: string | undefined, write?: Uint8Array): Promise<SyncOutcome & { denials: string[] }> {
  const ws = new WebSocket(node.url.replace(/^http/, 'ws') + '/v1/sync/' + encodeURIComponent(name), {
    headers: tokenValue ? { authorization: `Bearer ${tokenValue}` } : {},
  });
  const frames: Uint8Array[] = [];
  ws.on('message', (d: Buffer) => frames.push(new Uint8Array(d)));
  const done = new Promise<SyncOutcome>((resolve) => {
    ws.on('unexpected-response', (_req, res) => resolve({ status: res.statusCode, frames, synced: false }));
    ws.on('close', (code, reason) => resolve({ closeCode: code, closeReason: reason.toString(), frames, synced: frames.some(isStep2) }));
    ws.on('error', () => undefined);
  });
  const opened = await Promise.race([new Promise<boolean>((r) => ws.once('open', () => r(true))), done.then(() => false)]);
  if (opened) {
    ws.send(new Uint8Array([0, 0, 1, 0])); // sync step 1, empty state vector
    const synced = await Promise.race([eventually(() => expect(frames.some(isStep2)).toBe(true), 3000).then(() => true, () => false), done.then(() => false)]);
    if (synced && write) {
      const from = frames.length;
      ws.send(write);
      // An allowed write is answered by nothing; a refused one by an auth frame. A second step 1 orders them.
      ws.send(new Uint8Array([0, 0, 1, 0]));
      await eventually(() => expect(frames.slice(from).some(isStep2)).toBe(true), 3000).catch(() => undefined);
    }
    if (ws.readyState === WebSocket.OPEN) ws.close();
  }
  const outcome = await done;
  const denials = outcome.frames.filter((f) => f[0] === 2).map((f) => Buffer.from(f).toString('utf8'));
  return { ...outcome, denials };
}

describe.each(MODES)('authorization matrix: sync documents, %s tokens', (mode) => {
  beforeAll(() => use(mode));

  it('has an expectation for every kind of document', () => {
    expect(Object.keys(DOCUMENTS).sort()).toEqual(Object.keys(docNames).sort());
  });

  it.each(Object.keys(DOCUMENTS).sort())('%s', async (kind) => {
    const c = DOCUMENTS[kind as keyof typeof docNames];
    const fx = await fixture();
    const stream = `conversation-${fx.conversationId}`;
    for (const who of PRINCIPALS) {
      const name = c.name(fx, fx.conversationId);
      const before = await node.store.streamVersion(stream);
      const ownerDraftBefore = (await node.store.readStream(`user-${fx.users.owner}`)).length;
      const outcome = await openDoc(name, await token(fx, who), syncUpdate(`${who} was here`));
      const where = `${kind} ${name} as ${who} (${userOf(fx, who)}): ${JSON.stringify({ ...outcome, frames: outcome.frames.length })}`;
      const stored = async () => (await node.store.streamVersion(stream)) - before + ((await node.store.readStream(`user-${fx.users.owner}`)).length - ownerDraftBefore);
      switch (c.expect[who]) {
        case 'unauthorized':
          expect(outcome.status === 401 || outcome.closeCode === 4401, where).toBe(true);
          expect(outcome.frames, where).toEqual([]);
          break;
        case 'denied': {
          expect(outcome.closeCode, where).toBe(4403);
          expect(outcome.frames, `${where}: received document data`).toEqual([]);
          const missing = await openDoc(c.name(fx, MISSING), await token(fx, who));
          expect({ code: missing.closeCode, reason: missing.closeReason }, `${where}: differs from a document that does not exist`).toEqual({
            code: outcome.closeCode,
            reason: outcome.closeReason,
          });
          break;
        }
        case 'read':
          expect(outcome.synced, where).toBe(true);
          expect(outcome.denials.length, `${where}: a write was not refused`).toBeGreaterThan(0);
          expect(outcome.denials.join(), where).toMatch(/"code":"(not_author|forbidden)"/);
          break;
        case 'write':
          expect(outcome.synced, where).toBe(true);
          expect(outcome.denials, where).toEqual([]);
          await eventually(async () => expect(await stored(), `${where}: the write was not stored`).toBeGreaterThan(0));
          continue;
      }
      expect(await stored(), `${where}: stored a write`).toBe(0);
    }
  });
});

function syncUpdate(text: string): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, 0); // sync
  encoding.writeVarUint(e, 2); // update
  encoding.writeVarUint8Array(e, insertUpdate(text));
  return encoding.toUint8Array(e);
}

// ---------------------------------------------------------------------------------------
// Signaling (y-webrtc): a document's topic takes those who may write it (the sync matrix's
// `write`), since peers' direct updates never pass the node's check; everyone else with a
// valid token gets a `refused` frame, the same as for a conversation that does not exist.

type SignalingExpect = 'unauthorized' | 'refused' | 'join';
const signalingExpect = (e: SyncExpect): SignalingExpect => (e === 'unauthorized' ? e : e === 'write' ? 'join' : 'refused');

/** The `refused` code for `topic` (null: joined), or 'unauthorized' when the socket was not let in. */
async function joinTopic(topic: string, tokenValue: string | undefined): Promise<string | null> {
  const c = await connectSignaling(node.url, tokenValue).catch(() => null); // a 401 before the upgrade
  if (!c) return 'unauthorized';
  try {
    c.send({ type: 'subscribe', topics: [topic] });
    c.send({ type: 'publish', topic, data: { type: 'announce', from: 'matrix' } });
    const until = await c.settle().catch(() => -1);
    if (until < 0) return (await c.closed).code === 4401 ? 'unauthorized' : `closed ${(await c.closed).code}`;
    const seen = c.frames.slice(0, until);
    const refusal = seen.find((f) => f.type === 'refused' && f.topic === topic);
    const echoed = seen.some((f) => f.type === 'publish' && f.topic === topic);
    if (refusal && echoed) return 'refused but relayed';
    return refusal ? refusal.code! : echoed ? null : 'joined but not relayed';
  } finally {
    c.ws.close();
  }
}

describe.each(MODES)('authorization matrix: signaling topics, %s tokens', (mode) => {
  beforeAll(() => use(mode));

  it.each(Object.keys(DOCUMENTS).sort())('%s', async (kind) => {
    const c = DOCUMENTS[kind as keyof typeof docNames];
    const fx = await fixture();
    for (const who of PRINCIPALS) {
      const got = await joinTopic(c.name(fx, fx.conversationId), await token(fx, who));
      const where = `${kind} as ${who} (${userOf(fx, who)}): ${got}`;
      switch (signalingExpect(c.expect[who])) {
        case 'unauthorized':
          expect(got, where).toBe('unauthorized');
          break;
        case 'join':
          expect(got, where).toBeNull();
          break;
        case 'refused':
          expect(got, where).toMatch(/^(forbidden|not_author|message_deleted|message_not_found)$/);
          // Existence does not leak to those who are not members.
          if (who !== 'member') expect(await joinTopic(c.name(fx, MISSING), await token(fx, who)), where).toBe(got);
          break;
      }
    }
  });
});
