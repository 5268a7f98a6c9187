/** PARLEY_PARTITIONS as loadConfig reads it: 1 (or unset) is today's log; 2..64 a partitioned one; anything else refused by name. */
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../engine/node/index.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir('parley-partitions-config-');
afterAll(() => dir.remove());
const load = (env: Record<string, string>) => loadConfig({ DATA_DIR: dir.path, PARLEY_JWT_SECRET: 'a-secret-of-enough-length-here', ...env });

describe('PARLEY_PARTITIONS', () => {
  it('runs the unpartitioned log when unset or 1', () => {
    expect(load({ NATS_URL: 'nats://n:4222' }).streamName).toBe('PARLEY_EVENTS');
    expect(load({ NATS_URL: 'nats://n:4222', PARLEY_PARTITIONS: '1' }).streamName).toBe('PARLEY_EVENTS');
  });

  it('takes a partition count of 1..64', () => {
    expect(load({ NATS_URL: 'nats://n:4222' }).partitions).toBe(1);
    expect(load({ NATS_URL: 'nats://n:4222', PARLEY_PARTITIONS: '3' }).partitions).toBe(3);
    expect(load({ NATS_URL: 'nats://n:4222', PARLEY_PARTITIONS: '64' }).partitions).toBe(64);
  });

  it('refuses a count it cannot run, naming the setting', () => {
    for (const raw of ['65', '0', 'many', '1; rm -rf /']) {
      expect(() => load({ NATS_URL: 'nats://n:4222', PARLEY_PARTITIONS: raw })).toThrow(ConfigError);
      expect(() => load({ NATS_URL: 'nats://n:4222', PARLEY_PARTITIONS: raw })).toThrow(/PARLEY_PARTITIONS/);
    }
  });
});
