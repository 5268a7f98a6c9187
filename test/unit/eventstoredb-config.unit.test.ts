/** PARLEY_STORE and the EventStoreDB settings as loadConfig reads them: each refusal names what to set. */
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../engine/node/index.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir('parley-esdb-config-');
afterAll(() => dir.remove());
const load = (env: Record<string, string>) => loadConfig({ DATA_DIR: dir.path, PARLEY_JWT_SECRET: 'a-secret-of-enough-length-here', ...env });

describe('PARLEY_STORE=eventstoredb', () => {
  it('takes EVENTSTORE_URL and a namespace (default parley)', () => {
    expect(load({ PARLEY_STORE: 'eventstoredb', EVENTSTORE_URL: 'esdb://db:2113?tls=false' }).eventStoreDb).toEqual({ url: 'esdb://db:2113?tls=false', namespace: 'parley' });
    expect(
      load({ PARLEY_STORE: 'eventstoredb', EVENTSTORE_URL: 'esdb+discover://u:p@cluster:2113', PARLEY_EVENTSTORE_NAMESPACE: 'chat_eu' }).eventStoreDb,
    ).toEqual({ url: 'esdb+discover://u:p@cluster:2113', namespace: 'chat_eu' });
  });

  it('is off unless PARLEY_STORE says so, even with EVENTSTORE_URL in the environment', () => {
    expect(load({}).eventStoreDb).toBeUndefined();
    expect(load({ EVENTSTORE_URL: 'esdb://db:2113' }).eventStoreDb).toBeUndefined();
    expect(load({ PARLEY_STORE: 'sqlite' }).eventStoreDb).toBeUndefined();
  });

  it('refuses what it cannot honour, naming the setting', () => {
    expect(() => load({ PARLEY_STORE: 'eventstoredb' })).toThrow(/needs EVENTSTORE_URL/);
    expect(() => load({ PARLEY_STORE: 'eventstoredb', EVENTSTORE_URL: 'http://db:2113' })).toThrow(/EVENTSTORE_URL must be an esdb:\/\//);
    expect(() => load({ PARLEY_STORE: 'eventstoredb', EVENTSTORE_URL: 'esdb://db', NATS_URL: 'nats://n:4222' })).toThrow(/NATS_URL/);
    expect(() => load({ PARLEY_STORE: 'eventstoredb', EVENTSTORE_URL: 'esdb://db', PARLEY_EVENTSTORE_NAMESPACE: 'a-b' })).toThrow(/PARLEY_EVENTSTORE_NAMESPACE/);
    expect(() => load({ PARLEY_STORE: 'postgres' })).toThrow(/PARLEY_STORE must be sqlite, jetstream or eventstoredb/);
    expect(() => load({ PARLEY_STORE: 'jetstream' })).toThrow(/needs NATS_URL/);
  });
});
