/**
 * Where a webhook lane starts, on a real 3-partition store (one real nats-server): from its
 * stored cursor token; a cursor of another partition count starts it over as a new lane;
 * a new lane starts at the head its registration recorded (`from`), past the registration;
 * one registered without it starts at the start of every partition, passing over what is
 * older than the registration. And one event is found by its position in any partition.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toNewEvents } from '../../engine/domain/index.js';
import { eventAt } from '../../engine/node/webhooks/event-at.js';
import { laneStart } from '../../engine/node/webhooks/lane-start.js';
import { LogCursor, partitionOf, type StoredEvent } from '../../engine/store/index.js';
import { PartitionedJetStreamStore } from '../../engine/store/jetstream/index.js';
import { posted } from '../helpers/events.js';
import { startNatsServer, type NatsSingle } from '../helpers/nats-server.js';

const N = 3;
let server: NatsSingle;
let store: PartitionedJetStreamStore;
/** One conversation in each partition. */
const streams: string[] = [];
for (let i = 0; streams.length < N; i++) {
  const stream = `conversation-${randomUUID()}`;
  if (partitionOf(stream, N) === streams.length) streams.push(stream);
}

beforeAll(async () => {
  server = await startNatsServer();
  const id = randomUUID().replace(/-/g, '').slice(0, 12);
  store = await PartitionedJetStreamStore.connect({ servers: server.url, partitions: N, streamName: `PARLEY_L_${id}`, subjectPrefix: `parley.l${id}` });
});
afterAll(async () => {
  await store?.close();
  await server?.stop();
});

async function postInEach(text: string): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for (const s of streams) out.push(...(await store.append(s, [posted(text)], { expectedVersion: 'any' })).events);
  return out;
}

async function register(data: object): Promise<StoredEvent> {
  const events = toNewEvents([{ type: 'WebhookRegistered', data: { webhookId: randomUUID(), url: 'https://x.example', eventTypes: [], secrets: [], registeredBy: 'root', ...data } }], { actor: 'root', commandId: randomUUID() });
  return (await store.append('webhooks', events, { expectedVersion: 'any' })).events[0]!;
}

const webhookOf = (e: StoredEvent) => ({ registeredPosition: e.position, registeredAt: e.metadata.at });

describe('where a webhook lane starts on a partitioned log', () => {
  it('finds an event by its position in every partition', async () => {
    const events = await postInEach('find me');
    await postInEach('after');
    for (const e of events) expect((await eventAt(store, e.position))?.id).toBe(e.id);
    expect(await eventAt(store, events[2]!.position + 300 * N)).toBeUndefined();
    expect(await eventAt(store, 0)).toBeUndefined();
  });

  it('resumes from a stored token; starts over as a new lane on a cursor of another partition count', async () => {
    const before = await postInEach('before');
    const registration = await register({ from: (await store.headCursor()).encode() });
    const stored = LogCursor.start(N).advancedBy(before);
    expect((await laneStart(store, webhookOf(registration), stored.encode())).cursor.encode()).toBe(stored.encode());
    // A plain position (a one-partition log's cursor) says nothing here: the lane starts as a new one.
    const fresh = await laneStart(store, webhookOf(registration), 12345);
    expect(fresh.notBefore).toBe(0);
    expect(fresh.cursor.covers(registration.position)).toBe(true);
    for (const e of before) expect(fresh.cursor.covers(e.position)).toBe(true);
  });

  it('starts a new lane at the head its registration recorded, past the registration', async () => {
    const head = await store.headCursor();
    const registration = await register({ from: head.encode() });
    const later = await postInEach('later');
    const { cursor, notBefore } = await laneStart(store, webhookOf(registration), undefined);
    expect(notBefore).toBe(0);
    expect(cursor.reaches(head)).toBe(true);
    expect(cursor.covers(registration.position)).toBe(true);
    for (const e of later) expect(cursor.covers(e.position)).toBe(false);
  });

  it('without a recorded head, starts every partition from the start and passes over what is older than the registration', async () => {
    const registration = await register({});
    const { cursor, notBefore } = await laneStart(store, webhookOf(registration), undefined);
    expect(notBefore).toBe(registration.metadata.at);
    expect(cursor.covers(registration.position)).toBe(true);
    expect(cursor.after(1)).toBe(0);
    expect(cursor.after(2)).toBe(0);
  });
});
