/**
 * A NATS operator made in the test, for decentralized (JWT) authentication: an operator,
 * one account allowed to use JetStream, and users of it as `.creds` files the way `nsc`
 * writes them. A NATS JWT is `base64url(header).base64url(claims).base64url(signature)`,
 * the signature an ed25519 nkey signature over the first two parts by the issuer (the
 * operator signs itself and the account, the account signs its users).
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { nkeys } from '@nats-io/transport-node';

type KeyPair = ReturnType<typeof nkeys.createOperator>;

const b64 = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64url');

function signJwt(issuer: KeyPair, subject: string, name: string, nats: Record<string, unknown>): string {
  const claims = { jti: randomUUID(), iat: Math.floor(Date.now() / 1000), iss: issuer.getPublicKey(), name, sub: subject, nats: { ...nats, version: 2 } };
  const body = `${b64(JSON.stringify({ typ: 'JWT', alg: 'ed25519-nkey' }))}.${b64(JSON.stringify(claims))}`;
  return `${body}.${b64(issuer.sign(new TextEncoder().encode(body)))}`;
}

export interface TestOperator {
  /** The server configuration that trusts this operator and knows its account (memory resolver). */
  serverConfig: string;
  /** Writes a .creds file for a new user of the account; `foreignAccount`: signed by an account the server does not know, so it must refuse it. */
  writeCreds(file: string, options?: { foreignAccount?: boolean }): void;
}

export function testOperator(): TestOperator {
  const operator = nkeys.createOperator();
  const account = nkeys.createAccount();
  const unlimited = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 };
  const jetstream = { mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 };
  const operatorJwt = signJwt(operator, operator.getPublicKey(), 'parley-test-operator', { type: 'operator' });
  const accountJwt = signJwt(operator, account.getPublicKey(), 'parley', { type: 'account', limits: { ...unlimited, ...jetstream } });
  // JetStream in operator mode needs a system account for its internal subscriptions.
  const system = nkeys.createAccount();
  const systemJwt = signJwt(operator, system.getPublicKey(), 'SYS', { type: 'account', limits: unlimited });
  return {
    serverConfig:
      `operator: "${operatorJwt}"\nsystem_account: ${system.getPublicKey()}\nresolver: MEMORY\n` +
      `resolver_preload: { ${account.getPublicKey()}: "${accountJwt}", ${system.getPublicKey()}: "${systemJwt}" }\n`,
    writeCreds(file, options = {}) {
      const user = nkeys.createUser();
      const issuer = options.foreignAccount ? nkeys.createAccount() : account;
      const jwt = signJwt(issuer, user.getPublicKey(), 'parley-node', { type: 'user', pub: {}, sub: {}, subs: -1, data: -1, payload: -1 });
      const seed = new TextDecoder().decode(user.getSeed());
      writeFileSync(
        file,
        `-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n\n` +
          `-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`,
        { mode: 0o600 },
      );
    },
  };
}
