/**
 * The node's NATS connection against real nats-servers that demand TLS and credentials:
 * a server with `tls { verify: true }` (client certificate required) and users with
 * passwords, one with a token, one with nkey users. The node stores and reads through
 * each (and, for TLS, reconnects after a server restart); wrong credentials, an untrusted
 * server certificate or a bad seed file stop the start with an error that names the
 * settings, not a hang.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nkeys } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateAuthority, issueCertificate, type Authority, type Issued } from '../helpers/certificates.js';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { startNatsServer, type NatsSingle } from '../helpers/nats-server.js';
import { startTestNode, tokenFor, type TestNode } from '../helpers/node.js';
import { testOperator } from '../helpers/nats-operator.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir('parley-nats-security-');
afterAll(() => dir.remove());

/** Posts through `node` and reads the message back from the log and from history. */
async function storesAndReads(node: TestNode, text: string): Promise<void> {
  const alice = api(node.url, tokenFor('alice'));
  const created = await alice.post('/v1/conversations', { title: text, members: ['bob'] });
  expect(created.status).toBe(201);
  const posted = await alice.post(`/v1/conversations/${created.body.id}/messages`, { clientMessageId: randomUUID(), text });
  expect(posted.status).toBe(201);
  const log = await node.store.readStream(`conversation-${created.body.id}`);
  expect(log.map((e) => e.type)).toContain('MessagePosted');
  const history = await eventually(async () => {
    const r = await alice.get(`/v1/conversations/${created.body.id}/messages`);
    expect(JSON.stringify(r.body)).toContain(text);
    return r;
  });
  expect(history.status).toBe(200);
}

/** startTestNode on `nats` with the given environment, a stream and a data directory (removed with `dir`) of its own. */
function nodeOn(nats: NatsSingle, env: Record<string, string>): Promise<TestNode> {
  const id = randomUUID().slice(0, 8);
  return startTestNode({ natsUrls: [nats.url], streamName: `PARLEY_S_${id}`, natsRetryBudgetMs: 2000, env, dataDir: join(dir.path, id) });
}

describe('NATS with TLS (client certificates required) and user/password', () => {
  let ca: Authority;
  let client: Issued;
  let nats: NatsSingle;
  const password = randomBytes(12).toString('hex');
  let tlsEnv: Record<string, string>;

  beforeAll(async () => {
    ca = certificateAuthority(dir.path, 'nats-ca');
    const server = issueCertificate(ca, dir.path, 'nats-server');
    client = issueCertificate(ca, dir.path, 'nats-client');
    nats = await startNatsServer({
      extraConfig:
        `tls { cert_file: "${server.certFile}", key_file: "${server.keyFile}", ca_file: "${ca.certFile}", verify: true, timeout: 2 }\n` +
        `authorization { users: [ { user: parley, password: "${password}" } ] }\n`,
    });
    tlsEnv = { PARLEY_NATS_TLS_CA: ca.certFile, PARLEY_NATS_TLS_CERT: client.certFile, PARLEY_NATS_TLS_KEY: client.keyFile };
  });
  afterAll(async () => {
    await nats?.stop();
  });

  it('stores and reads through it, also after the server restarts', async () => {
    const node = await nodeOn(nats, { ...tlsEnv, PARLEY_NATS_USER: 'parley', PARLEY_NATS_PASSWORD: password });
    try {
      await storesAndReads(node, 'over tls');
      await nats.restart();
      // The reconnect goes through TLS and the credentials again.
      await eventually(() => storesAndReads(node, 'after restart'), 20_000, 200);
    } finally {
      await node.destroy();
    }
  }, 60_000);

  it('a wrong password: a start-up error naming the credential settings', async () => {
    await expect(nodeOn(nats, { ...tlsEnv, PARLEY_NATS_USER: 'parley', PARLEY_NATS_PASSWORD: 'wrong' })).rejects.toThrow(/NATS at .* refused the node's credentials: .*PARLEY_NATS_USER \/ PARLEY_NATS_PASSWORD/);
  });

  it('no CA for the server certificate: a start-up error naming PARLEY_NATS_TLS_CA', async () => {
    const env = { PARLEY_NATS_TLS_CERT: client.certFile, PARLEY_NATS_TLS_KEY: client.keyFile, PARLEY_NATS_USER: 'parley', PARLEY_NATS_PASSWORD: password };
    await expect(nodeOn(nats, env)).rejects.toThrow(/cannot set up TLS with NATS at .*PARLEY_NATS_TLS_CA/);
  });
});

describe('NATS with a token', () => {
  let nats: NatsSingle;
  const token = randomBytes(16).toString('hex');
  beforeAll(async () => {
    nats = await startNatsServer({ extraConfig: `authorization { token: "${token}" }\n` });
  });
  afterAll(async () => {
    await nats?.stop();
  });

  it('stores and reads with PARLEY_NATS_TOKEN', async () => {
    const node = await nodeOn(nats, { PARLEY_NATS_TOKEN: token });
    try {
      await storesAndReads(node, 'with a token');
    } finally {
      await node.destroy();
    }
  });

  it('a wrong token, or none: a start-up error naming the credential settings', async () => {
    await expect(nodeOn(nats, { PARLEY_NATS_TOKEN: 'not-the-token' })).rejects.toThrow(/refused the node's credentials: .*PARLEY_NATS_TOKEN/);
    await expect(nodeOn(nats, {})).rejects.toThrow(/refused the node's credentials/);
  });
});

describe('NATS with nkey users', () => {
  let nats: NatsSingle;
  const user = nkeys.createUser();
  const seedFile = join(dir.path, 'parley.nk');
  beforeAll(async () => {
    writeFileSync(seedFile, `${new TextDecoder().decode(user.getSeed())}\n`, { mode: 0o600 });
    nats = await startNatsServer({ extraConfig: `authorization { users: [ { nkey: ${user.getPublicKey()} } ] }\n` });
  });
  afterAll(async () => {
    await nats?.stop();
  });

  it('stores and reads with PARLEY_NATS_NKEY (a seed file)', async () => {
    const node = await nodeOn(nats, { PARLEY_NATS_NKEY: seedFile });
    try {
      await storesAndReads(node, 'with an nkey');
    } finally {
      await node.destroy();
    }
  });

  it("another user's seed is refused; a file that is no seed is named before connecting", async () => {
    const other = join(dir.path, 'other.nk');
    writeFileSync(other, new TextDecoder().decode(nkeys.createUser().getSeed()));
    await expect(nodeOn(nats, { PARLEY_NATS_NKEY: other })).rejects.toThrow(/refused the node's credentials: .*PARLEY_NATS_NKEY/);
    const garbage = join(dir.path, 'garbage.nk');
    writeFileSync(garbage, 'SUnot-a-seed');
    await expect(nodeOn(nats, { PARLEY_NATS_NKEY: garbage })).rejects.toThrow(/PARLEY_NATS_NKEY: cannot use .*garbage\.nk/);
  });
});

describe('NATS with an operator (JWT users, .creds files)', () => {
  let nats: NatsSingle;
  const operator = testOperator();
  beforeAll(async () => {
    nats = await startNatsServer({ extraConfig: operator.serverConfig });
  });
  afterAll(async () => {
    await nats?.stop();
  });

  it('stores and reads with PARLEY_NATS_CREDS', async () => {
    const creds = join(dir.path, 'parley.creds');
    operator.writeCreds(creds);
    const node = await nodeOn(nats, { PARLEY_NATS_CREDS: creds });
    try {
      await storesAndReads(node, 'with creds');
    } finally {
      await node.destroy();
    }
  });

  it('a user of an unknown account is refused; a file that is no .creds is named before connecting', async () => {
    const foreign = join(dir.path, 'foreign.creds');
    operator.writeCreds(foreign, { foreignAccount: true });
    await expect(nodeOn(nats, { PARLEY_NATS_CREDS: foreign })).rejects.toThrow(/refused the node's credentials: .*PARLEY_NATS_CREDS/);
    const garbage = join(dir.path, 'garbage.creds');
    writeFileSync(garbage, 'not a creds file\n');
    await expect(nodeOn(nats, { PARLEY_NATS_CREDS: garbage })).rejects.toThrow(/PARLEY_NATS_CREDS: cannot use .*garbage\.creds/);
  });
});
