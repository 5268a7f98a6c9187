/**
 * `parley repartition` on a real nats-server: N = 1 → 3 while a node appends, then 3 → 2
 * through the CLI with the first run SIGKILLed half-way. Each time: every event of the old
 * log once in the new one, each stream in the same order with dense seqs, idempotency keys
 * found (a retried command appends nothing), appends acknowledged during the copy carried
 * over; the node on the old generation refuses appends with the retryable
 * `store_unavailable` (clients: `unavailable`) from the switch on and until it is
 * restarted, which opens the new generation.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { clusterLogOptions, connectClusterStore, type ClusterLog } from '../../engine/cluster/index.js';
import { isStoreUnavailableError } from '../../engine/store/errors.js';
import { LogCursor, partitionsOf, readAllAfter } from '../../engine/store/log-cursor.js';
import type { EventStore, IdempotencyRecord, NewEvent, StoredEvent } from '../../engine/store/port.js';
import { LogGenerationMovedError, PartitionCountMismatchError, PartitionedJetStreamStore, repartition } from '../../engine/store/jetstream/index.js';
import { ensurePointerBucket, movePointer, readPointer } from '../../engine/store/jetstream/log-pointer.js';
import { PARLEY_BIN } from '../helpers/cli.js';
import { eventually } from '../helpers/eventually.js';
import { startNatsServer, type NatsSingle } from '../helpers/nats-server.js';
import { tempDir } from '../helpers/temp-dir.js';

let nats: NatsSingle;
const dir = tempDir('parley-repartition-');
beforeAll(async () => {
  nats = await startNatsServer();
});
afterAll(async () => {
  await nats?.stop();
  dir.remove();
});

function settings(streamName: string, partitions: number) {
  return {
    nodeId: 'n1',
    dataDir: dir.path,
    natsUrls: [nats.url],
    streamName,
    replicas: 1,
    partitions,
    natsRetryBudgetMs: 5000,
    heartbeatSeconds: 5,
    presenceExpirySeconds: 15,
    natsTls: null,
    natsAuth: null,
  };
}

function ev(type: string): NewEvent {
  return { id: randomUUID(), type, data: { n: type }, metadata: { actor: 'a', commandId: randomUUID(), correlationId: 'c', at: Date.now(), schemaVersion: 1 } };
}

const keyed = (): IdempotencyRecord => ({ key: `cmd-${randomUUID()}`, fingerprint: 'f', result: { ok: true } });

/** Appends `each` envelopes to every stream (streams in parallel), every 4th keyed; returns the keys. */
async function seed(store: EventStore, streams: string[], each: number): Promise<Array<{ stream: string; key: string }>> {
  const keys: Array<{ stream: string; key: string }> = [];
  await Promise.all(
    streams.map(async (stream) => {
      for (let i = 0; i < each; i++) {
        const idempotency = i % 4 === 0 ? keyed() : undefined;
        await store.append(stream, [ev('A'), ev('B')], { expectedVersion: i * 2, ...(idempotency && { idempotency }) });
        if (idempotency) keys.push({ stream, key: idempotency.key });
      }
    }),
  );
  return keys;
}

async function wholeLog(store: EventStore): Promise<StoredEvent[]> {
  const all: StoredEvent[] = [];
  let cursor = LogCursor.start(partitionsOf(store));
  for (;;) {
    const page = await readAllAfter(store, cursor, 1000);
    if (page.length === 0) return all;
    all.push(...page);
    cursor = cursor.advancedBy(page);
  }
}

/** The new log holds exactly the old one: every event once, each stream in order with dense seqs. */
async function expectSameLog(before: EventStore, after: EventStore): Promise<number> {
  const [old, copied] = [await wholeLog(before), await wholeLog(after)];
  expect(copied.length).toBe(old.length);
  expect(new Set(copied.map((e) => e.id)).size).toBe(copied.length);
  const streams = new Set(old.map((e) => e.stream));
  for (const stream of streams) {
    const [a, b] = [await before.readStream(stream, { limit: 100_000 }), await after.readStream(stream, { limit: 100_000 })];
    expect(b.map((e) => [e.id, e.seq])).toEqual(a.map((e) => [e.id, e.seq]));
    expect(b.map((e) => e.seq)).toEqual(b.map((_, i) => i + 1));
  }
  return old.length;
}

/** A retried command (same key) after the switch is found and appends nothing. */
async function expectKeysKept(store: EventStore, keys: Array<{ stream: string; key: string }>): Promise<void> {
  for (const { key } of keys) expect(await store.findIdempotency(key), key).toBeDefined();
  for (const { stream, key } of keys.slice(0, 10)) {
    const version = await store.streamVersion(stream);
    const again = await store.append(stream, [ev('Again')], { expectedVersion: 'any', idempotency: { key, fingerprint: 'f', result: { ok: true } } });
    expect(again.duplicate?.key).toBe(key);
    expect(await store.streamVersion(stream)).toBe(version);
  }
}

describe('parley repartition', () => {
  it('1 → 3 while a node appends: the copy carries the appends over, the node refuses appends from the switch until restarted on generation 1', async () => {
    const streamName = `RP_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
    const errors: unknown[] = [];
    const node = await connectClusterStore(settings(streamName, 1), (err) => errors.push(err));
    const streams = Array.from({ length: 24 }, () => `conversation-${randomUUID()}`);
    const keys = await seed(node, streams, 25);

    // Writers keep appending (paced, so the copy catches up) until the node refuses them.
    let copying = false;
    let ackedDuringCopy = 0;
    const writer = async (stream: string): Promise<unknown> => {
      for (let version = 0; ; ) {
        const idempotency = version % 4 === 0 ? keyed() : undefined;
        try {
          const r = await node.append(stream, [ev('W')], { expectedVersion: version, ...(idempotency && { idempotency }) });
          version = r.version;
          if (idempotency) keys.push({ stream, key: idempotency.key });
          if (copying) ackedDuringCopy++;
        } catch (err) {
          return err;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    const writers = [`conversation-${randomUUID()}`, `user-${randomUUID()}`].map(writer);
    const phases: string[] = [];
    const result = await repartition({
      base: clusterLogOptions(settings(streamName, 1), {}, 1, () => undefined),
      to: 3,
      onProgress: (p) => {
        copying = true;
        phases.push(p.phase);
      },
    });
    const refusals = await Promise.all(writers);
    console.info(`1 → 3: copied ${result.copied}, skipped ${result.skipped}, ${ackedDuringCopy} appends acked during the copy, head ${result.headCursor}`);
    expect(result.to).toEqual({ generation: 1, partitions: 3 });
    expect(phases).toContain('switching');
    expect(ackedDuringCopy).toBeGreaterThan(0);
    for (const err of refusals) expect(isStoreUnavailableError(err), String(err)).toBe(true);
    await expect(node.append(streams[0]!, [ev('Late')], { expectedVersion: 'any' })).rejects.toMatchObject({ code: 'store_unavailable' });
    await eventually(() => expect(errors.some((e) => e instanceof LogGenerationMovedError)).toBe(true));

    // The old count is refused by name; a node restarted with the new one opens generation 1.
    await expect(connectClusterStore(settings(streamName, 1), () => undefined)).rejects.toSatisfy(
      (err: unknown) => err instanceof PartitionCountMismatchError && /PARLEY_PARTITIONS=3.*parley repartition/.test(err.message),
    );
    const restarted = (await connectClusterStore(settings(streamName, 3), () => undefined)) as ClusterLog;
    try {
      expect(restarted).toBeInstanceOf(PartitionedJetStreamStore);
      expect((restarted as PartitionedJetStreamStore).streamNames).toEqual([`${streamName}_G1`, `${streamName}_G1_P1`, `${streamName}_G1_P2`]);
      expect((await (restarted as PartitionedJetStreamStore).headCursor()).encode()).toBe(result.headCursor);
      const events = await expectSameLog(node, restarted);
      expect(result.skipped).toBe(0);
      expect(events).toBeGreaterThan(1200);
      await expectKeysKept(restarted, keys);
      await restarted.append(streams[0]!, [ev('New')], { expectedVersion: 50 });
    } finally {
      await restarted.close();
      await node.close();
    }
  }, 180_000);

  it('3 → 2 by the CLI, killed half-way and run again: nothing copied twice', async () => {
    const streamName = `RP_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
    const old = (await connectClusterStore(settings(streamName, 3), () => undefined)) as PartitionedJetStreamStore;
    const streams = Array.from({ length: 36 }, () => `conversation-${randomUUID()}`);
    const keys = await seed(old, streams, 50); // 1,800 envelopes: several copy chunks per partition
    const cli = (): { done: Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>; kill: () => void; progress: Promise<void> } => {
      const child = spawn(process.execPath, [PARLEY_BIN, 'repartition', '--to', '2', '--nats', nats.url], {
        env: { ...process.env, PARLEY_STREAM: streamName, NATS_URL: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      let sawProgress: () => void = () => undefined;
      const progress = new Promise<void>((r) => (sawProgress = r));
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => {
        stderr += d;
        if (/copying: [1-9]\d* message\(s\) done/.test(stderr)) sawProgress();
      });
      const done = new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((resolve) =>
        child.once('exit', (code, signal) => resolve({ code, signal, stdout, stderr })),
      );
      return { done, kill: () => child.kill('SIGKILL'), progress };
    };

    const first = cli();
    await Promise.race([first.progress, first.done]);
    first.kill();
    const killed = await first.done;
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    const jsm = await jetstreamManager(old.nc);
    const sourceMessages = (await Promise.all(old.streamNames.map((s) => jsm.streams.info(s)))).reduce((n, i) => n + i.state.messages, 0);
    const targets = [`${streamName}_G1`, `${streamName}_G1_P1`];
    const copiedAtKill = (await Promise.all(targets.map((s) => jsm.streams.info(s)))).reduce((n, i) => n + i.state.messages, 0);
    console.info(`3 → 2: killed with ${copiedAtKill} of ${sourceMessages} envelopes copied`);
    expect(copiedAtKill).toBeGreaterThan(0);
    expect(copiedAtKill).toBeLessThan(sourceMessages);

    const second = await cli().done;
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/generation 1 \(2 partition\(s\)\) is live/);
    const head = /head cursor: (\S+)/.exec(second.stdout)?.[1];
    console.info(`3 → 2, second run: ${/copied .*/.exec(second.stdout)?.[0]}`);
    const copied = (await Promise.all(targets.map((s) => jsm.streams.info(s)))).reduce((n, i) => n + i.state.messages, 0);
    expect(copied).toBe(sourceMessages); // nothing twice, nothing left out

    const restarted = (await connectClusterStore(settings(streamName, 2), () => undefined)) as PartitionedJetStreamStore;
    try {
      expect((await restarted.headCursor()).encode()).toBe(head);
      await expectSameLog(old, restarted);
      await expectKeysKept(restarted, keys);
      // A node still on generation 0 refuses appends with the retryable code.
      await expect(old.append(streams[0]!, [ev('Late')], { expectedVersion: 'any' })).rejects.toMatchObject({ code: 'store_unavailable' });
    } finally {
      await restarted.close();
      await old.close();
    }
  }, 240_000);

  it('a node refuses appends with store_unavailable while the pointer says switching', async () => {
    const streamName = `RP_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
    const node = await connectClusterStore(settings(streamName, 1), () => undefined);
    try {
      const stream = `conversation-${randomUUID()}`;
      await node.append(stream, [ev('A')], { expectedVersion: 0 });
      // The pointer as parley repartition sets it before sealing (written here by hand, so the state holds still).
      const kv = await ensurePointerBucket(node.nc, streamName, 1);
      const at = await movePointer(kv, (await readPointer(kv))?.revision ?? 0, { generation: 0, partitions: 1, state: 'switching', next: { generation: 1, partitions: 3 } });
      // At a stale expected version, so an attempt the gate lets through (not seen yet) conflicts rather than lands.
      await eventually(async () => {
        const err = await node.append(stream, [ev('B')], { expectedVersion: 0 }).then(() => undefined, (e: unknown) => e);
        expect(err).toMatchObject({ code: 'store_unavailable', message: expect.stringMatching(/switching to generation 1/) });
      });
      expect(await node.streamVersion(stream)).toBe(1); // refused, not appended
      await movePointer(kv, at, { generation: 0, partitions: 1, state: 'live' });
      await eventually(async () => expect((await node.append(stream, [ev('C')], { expectedVersion: 1 })).version).toBe(2));
    } finally {
      await node.close();
    }
  }, 60_000);
});
