/**
 * The store refuses a replicated log on a nats-server with nats-server#4320 (2.9.0–2.9.20)
 * and names the version, the bug and the fix; a single-replica log on the same server is
 * allowed. Needs such a server: PARLEY_BROKEN_NATS_SERVER_BIN names a 2.9.0–2.9.20
 * binary, or `.ci/run` has unpacked Debian bookworm's 2.9.10 package under
 * node_modules/.cache/parley. Without one the test says so and skips; the unit test
 * nats-server-bugs.unit.test.ts covers the version rule itself. Also checks that the
 * server the suite runs on is not one the store refuses.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { JetStreamEventStore, serverBugsFor, UnsafeServerVersionError } from '../../engine/store/jetstream/index.js';
import { startNatsCluster, startNatsServer } from '../helpers/nats-server.js';

/** `.ci/run` unpacks Debian bookworm's nats-server 2.9.10 package here (never installed). */
const UNPACKED_BROKEN = fileURLToPath(new URL('../../node_modules/.cache/parley/nats-server-2.9/usr/sbin/nats-server', import.meta.url));
const BROKEN = process.env.PARLEY_BROKEN_NATS_SERVER_BIN ?? (existsSync(UNPACKED_BROKEN) ? UNPACKED_BROKEN : undefined);
const brokenVersion = BROKEN && existsSync(BROKEN) ? versionOf(BROKEN) : undefined;

function versionOf(bin: string): string | undefined {
  try {
    return /v?(\d+\.\d+\.\d+\S*)/.exec(execFileSync(bin, ['--version'], { encoding: 'utf8' }))?.[1];
  } catch {
    return undefined;
  }
}

function options(servers: string[], replicas: number) {
  const id = randomUUID().replace(/-/g, '').slice(0, 12);
  return { servers, replicas, streamName: `PARLEY_V_${id}`, subjectPrefix: `parley.v${id}`, retryBudgetMs: 5000 };
}

describe('nats-server version refusal', () => {
  it('the suite runs on a nats-server that is safe for R3', () => {
    const version = versionOf(process.env.NATS_SERVER_BIN ?? 'nats-server');
    expect(version, 'nats-server --version').toBeDefined();
    expect(serverBugsFor(version!, 3).map((b) => b.issue), `nats-server ${version}`).toEqual([]);
  });

  const broken = Boolean(brokenVersion && serverBugsFor(brokenVersion, 3).length > 0);
  if (!broken) {
    console.info(
      `nats-server version refusal: no known-broken nats-server on this machine (PARLEY_BROKEN_NATS_SERVER_BIN=${BROKEN ?? 'unset'}${brokenVersion ? `, v${brokenVersion}` : ''}); the refusal is covered by the unit test only`,
    );
  }

  it.skipIf(!broken)('refuses an R3 log on a broken server, naming version, bug and fix, and accepts R1 there', async () => {
    const cluster = await startNatsCluster(3, { bin: BROKEN });
    try {
      const err = await JetStreamEventStore.connect(options(cluster.urls, 3)).then(
        (s) => s.close().then(() => undefined),
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(UnsafeServerVersionError);
      const message = (err as Error).message;
      expect(message).toContain(brokenVersion!);
      expect(message).toContain('nats-server#4320');
      expect(message).toMatch(/upgrade .*≥ 2\.9\.21/);
      console.info(`refused: ${message}`);
    } finally {
      await cluster.stop();
    }
    const single = await startNatsServer({ bin: BROKEN });
    try {
      const store = await JetStreamEventStore.connect(options([single.url], 1));
      expect(store.serverVersion).toBe(brokenVersion);
      await store.close();
    } finally {
      await single.stop();
    }
  }, 60_000);
});
