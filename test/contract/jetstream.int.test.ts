/**
 * The EventStore contract against one real nats-server (2.9 on these machines). One
 * server serves the whole file; each test gets its own JetStream stream and subject
 * prefix (streams may not overlap in subjects), and `open()` reconnects to the same
 * stream so the restart case reads back what the previous store wrote.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream } from '@nats-io/jetstream';
import { JetStreamEventStore, type JetStreamStoreOptions } from '../../engine/store/jetstream/index.js';
import { isConcurrencyError, isStoreUnavailableError } from '../../engine/store/errors.js';
import { startNatsServer, type NatsSingle } from '../helpers/nats-server.js';
import { closingEachStore, describeEventStoreContract } from './event-store.contract.js';

let server: NatsSingle;
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await server?.stop();
});

function freshOptions(): JetStreamStoreOptions {
  const id = randomUUID().replace(/-/g, '').slice(0, 12);
  return { servers: server.url, streamName: `PARLEY_T_${id}`, subjectPrefix: `parley.t${id}`, requestTimeoutMs: 2000 };
}

describeEventStoreContract('jetstream', async () => {
  const options = freshOptions();
  return closingEachStore(() => JetStreamEventStore.connect(options));
});

describe('JetStream event store specifics', () => {
  it('reports the server version and which newer features it has', async () => {
    const store = await JetStreamEventStore.connect(freshOptions());
    try {
      expect(store.serverVersion).toMatch(/^\d+\.\d+\.\d+/);
      expect(typeof store.features.multiFilter).toBe('boolean');
      if (store.serverVersion.startsWith('2.9.')) {
        expect(store.features).toEqual({ multiFilter: false, perMessageTtl: false, batchPublish: false });
      }
    } finally {
      await store.close();
    }
  });

  it('keeps odd stream names apart and reads them back', async () => {
    const store = await JetStreamEventStore.connect(freshOptions());
    try {
      const names = ['user-a.b', 'user-a~2Eb', 'node-*>', 'user-ünï cødé'];
      for (const name of names) {
        await store.append(name, [{ id: randomUUID(), type: 'T', data: { name }, metadata: { actor: 'a', commandId: 'c', correlationId: 'c', at: 0, schemaVersion: 1 } }], { expectedVersion: 0 });
      }
      for (const name of names) {
        const [e] = await store.readStream(name);
        expect(e!.stream).toBe(name);
        expect(e!.data).toEqual({ name });
      }
    } finally {
      await store.close();
    }
  });

  it('lets two stores on one stream (two nodes) keep seqs dense through stale tips', async () => {
    const options = freshOptions();
    const a = await JetStreamEventStore.connect(options);
    const b = await JetStreamEventStore.connect(options);
    const meta = { actor: 'a', commandId: 'c', correlationId: 'c', at: 0, schemaVersion: 1 };
    const e = (type: string) => ({ id: randomUUID(), type, data: {}, metadata: meta });
    try {
      const stream = `conversation-${randomUUID()}`;
      await a.append(stream, [e('A1')], { expectedVersion: 0 });
      await b.append(stream, [e('B1')], { expectedVersion: 1 }); // b learns the tip
      await a.append(stream, [e('A2')], { expectedVersion: 2 }); // a's cached tip was stale
      const err = await b.append(stream, [e('B2')], { expectedVersion: 2 }).catch((x) => x);
      expect(isConcurrencyError(err)).toBe(true);
      expect(err.actual).toBe(3);
      // 'any' from both sides at once: each side retries on the server's rejection.
      await Promise.all([
        ...Array.from({ length: 5 }, (_, i) => a.append(stream, [e(`a${i}`)], { expectedVersion: 'any' })),
        ...Array.from({ length: 5 }, (_, i) => b.append(stream, [e(`b${i}`)], { expectedVersion: 'any' })),
      ]);
      const events = await a.readStream(stream);
      expect(events.map((x) => x.seq)).toEqual(Array.from({ length: 13 }, (_, i) => i + 1));
      // A key recorded by one node is a duplicate on the other, even at a stale version.
      const key = `k:${randomUUID()}`;
      await a.append(stream, [e('K')], { expectedVersion: 13, idempotency: { key, fingerprint: 'f', result: { ok: 1 } } });
      const again = await b.append(stream, [e('K')], { expectedVersion: 13, idempotency: { key, fingerprint: 'f', result: { ok: 2 } } });
      expect(again.duplicate).toEqual({ key, fingerprint: 'f', result: { ok: 1 } });
      expect(await b.streamVersion(stream)).toBe(14);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('reads any window of a long stream the same from a warm and a cold store', async () => {
    const options = freshOptions();
    const warm = await JetStreamEventStore.connect(options);
    const meta = { actor: 'a', commandId: 'c', correlationId: 'c', at: 0, schemaVersion: 1 };
    const e = (type: string) => ({ id: randomUUID(), type, data: {}, metadata: meta });
    const stream = `conversation-${randomUUID()}`;
    const other = `conversation-${randomUUID()}`;
    let version = 0;
    for (let i = 0; i < 150; i++) {
      const batch = Array.from({ length: 1 + (i % 3) }, (_, j) => e(`E${i}.${j}`));
      version = (await warm.append(stream, batch, { expectedVersion: version })).version;
      await warm.append(other, [e('noise')], { expectedVersion: 'any' });
    }
    const cold = await JetStreamEventStore.connect(options);
    try {
      const full = (await cold.readStream(stream, { limit: 10_000 })).map((x) => x.type);
      expect(full).toHaveLength(version);
      for (const store of [warm, cold]) {
        for (const afterSeq of [0, 1, 2, 57, 150, 298, version - 1, version]) {
          const got = await store.readStream(stream, { afterSeq, limit: 7 });
          expect(got.map((x) => x.type)).toEqual(full.slice(afterSeq, afterSeq + 7));
        }
        for (const beforeSeq of [1, 2, 60, 200, version, version + 1]) {
          const got = await store.readStream(stream, { beforeSeq, limit: 5 });
          expect(got.map((x) => x.type)).toEqual(full.slice(Math.max(0, beforeSeq - 1 - 5), beforeSeq - 1).reverse());
        }
      }
    } finally {
      await warm.close();
      await cold.close();
    }
  });

  it('finds a key whose index entry was lost (crash after the ack) once a store connects', async () => {
    const options = freshOptions();
    const first = await JetStreamEventStore.connect(options);
    const stream = `conversation-${randomUUID()}`;
    const key = `carol:${randomUUID()}`;
    const meta = { actor: 'carol', commandId: 'c', correlationId: 'c', at: 0, schemaVersion: 1 };
    try {
      // What a node that died right after its PubAck leaves behind: the envelope in the
      // log, no entry in the index. Written by hand in the documented wire format.
      const envelope = { v: 1, stream, firstSeq: 1, events: [{ id: randomUUID(), type: 'A', data: {}, metadata: meta }], idempotency: { key, fingerprint: 'f', result: { seq: 1 } } };
      await jetstream(first.nc).publish(`${options.subjectPrefix}.${stream}`, JSON.stringify(envelope), { msgID: `k:${key}` });
      expect(await first.findIdempotency(key)).toBeUndefined();
    } finally {
      await first.close();
    }
    const second = await JetStreamEventStore.connect(options);
    try {
      expect(await second.findIdempotency(key)).toEqual({ key, fingerprint: 'f', result: { seq: 1 } });
      const again = await second.append(stream, [{ id: randomUUID(), type: 'A', data: {}, metadata: meta }], { expectedVersion: 'any', idempotency: { key, fingerprint: 'f', result: { seq: 9 } } });
      expect(again.duplicate?.result).toEqual({ seq: 1 });
      expect(await second.streamVersion(stream)).toBe(1);
    } finally {
      await second.close();
    }
  });

  it('rejects with StoreUnavailableError within its budget when NATS is gone', async () => {
    const own = await startNatsServer();
    const store = await JetStreamEventStore.connect({ ...freshOptions(), servers: own.url, requestTimeoutMs: 500, retryBudgetMs: 1500 });
    try {
      await own.kill('SIGKILL');
      const started = Date.now();
      const err = await store
        .append('user-x', [{ id: randomUUID(), type: 'T', data: {}, metadata: { actor: 'a', commandId: 'c', correlationId: 'c', at: 0, schemaVersion: 1 } }], { expectedVersion: 0 })
        .catch((e) => e);
      expect(isStoreUnavailableError(err)).toBe(true);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await store.nc.close();
      await own.stop();
    }
  });
});
