/**
 * The fan-out's memory of what it announced, on a real SQLite store and real read models:
 * it holds only users whose presence a node's coming or going can still change (a
 * session somewhere), so a stream of distinct users connecting and leaving leaves nothing
 * behind, while a node going silent is still told once per user.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FanOut, type Recipient } from '../../engine/node/fan-out.js';
import { createMetrics } from '../../engine/node/metrics.js';
import { PresenceRecorder } from '../../engine/node/presence-recorder.js';
import { SqliteEventStore, conversationStream, nodeStream } from '../../engine/store/index.js';
import { ProjectionRunner, builtInProjections, nodeLiveness } from '../../projections/index.js';
import { eventually } from '../helpers/eventually.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir('parley-fan-out-');
const open: Array<() => unknown> = [];
afterEach(async () => {
  for (const close of open.splice(0).reverse()) await close();
});

const noLog = { warn: () => undefined, error: () => undefined };
const meta = (actor: string) => ({ actor, commandId: randomUUID(), correlationId: 'c', at: Date.now(), schemaVersion: 1 });

interface PresenceFrame {
  userId: string;
  online: boolean;
}

/** A store, the built-in read models, a fan-out fed by the store, and one watcher sharing a conversation with `members`. */
async function setup(name: string, members: string[]) {
  const store = new SqliteEventStore({ file: join(dir.path, `${name}-events.sqlite`) });
  const db = ProjectionRunner.openDatabase(join(dir.path, `${name}-rm.sqlite`));
  const runner = new ProjectionRunner(store, db, builtInProjections());
  open.push(() => store.close(), () => db.close(), () => runner.stop());
  await runner.start();
  const fanOut = new FanOut(db, createMetrics('n1'), (p) => runner.waitFor(p));
  open.push(store.subscribe((events) => fanOut.deliver(events)));
  const conversationId = randomUUID();
  await store.append(
    conversationStream(conversationId),
    [{ id: randomUUID(), type: 'ConversationCreated', data: { title: 't', createdBy: 'watcher', members: ['watcher', ...members] }, metadata: meta('watcher') }],
    { expectedVersion: 0 },
  );
  await runner.waitFor(await store.headPosition());
  const frames: PresenceFrame[] = [];
  const watcher: Recipient = {
    userId: 'watcher',
    offer: () => undefined,
    memberLeft: () => undefined,
    sendEphemeral: () => undefined,
    send: (f) => frames.push(JSON.parse(typeof f === 'string' ? f : f.payload.toString()) as PresenceFrame),
  };
  fanOut.add(conversationId, watcher);
  return { store, db, fanOut, frames };
}

describe('FanOut presence memory', () => {
  it('forgets every user once they are offline everywhere, however many came and went', async () => {
    const users = Array.from({ length: 300 }, (_, i) => `u${i}-${randomUUID()}`);
    const { store, fanOut, frames } = await setup('many', users);
    const presence = new PresenceRecorder(store, 'n1', noLog);
    for (const u of users) presence.online(u);
    await presence.settled();
    await eventually(() => expect(frames.filter((f) => f.online)).toHaveLength(users.length));
    expect(fanOut.usersAnnounced).toBe(users.length);

    for (const u of users) presence.offline(u);
    await presence.settled();
    await eventually(() => expect(frames.filter((f) => !f.online)).toHaveLength(users.length));
    expect(fanOut.usersAnnounced).toBe(0);
  });

  it('tells a silent node’s user offline once, keeps them while their session stands, and forgets them when that node restarts', async () => {
    const { store, db, fanOut, frames } = await setup('silent', ['sam']);
    const onN2 = new PresenceRecorder(store, 'n2', noLog);
    onN2.online('sam');
    await onN2.settled();
    await eventually(() => expect(frames).toEqual([expect.objectContaining({ userId: 'sam', online: true })]));

    // n2 stops answering (this node's heartbeat view): sam is offline, but still has a session there.
    nodeLiveness(db).markDown('n2', Date.now());
    fanOut.nodePresenceChanged('n2');
    expect(frames.map((f) => f.online)).toEqual([true, false]);
    expect(fanOut.usersAnnounced).toBe(1);
    // Told once: the log's NodeExpired (or another heartbeat check) does not tell it again.
    fanOut.nodePresenceChanged('n2');
    expect(frames).toHaveLength(2);

    // n2 restarts: its sessions are forgotten, and so is sam.
    await store.append(nodeStream('n2'), [{ id: randomUUID(), type: 'NodeStarted', data: { nodeId: 'n2' }, metadata: meta('system') }], {
      expectedVersion: 'any',
    });
    await eventually(() => expect(fanOut.usersAnnounced).toBe(0));
  });
});
