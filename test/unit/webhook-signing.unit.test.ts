/** Webhook signing against the published Standard Webhooks vector, the address checks and the backoff bounds. */
import { lookup } from 'node:dns/promises';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { backoff, generateSecret, isPrivateAddress, secretKey, send, sign, signedHeaders, urlProblem } from '../../engine/node/webhooks/index.js';
import { verify, WebhookReceiver } from '../helpers/webhook-receiver.js';

const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

describe('webhook signatures', () => {
  it('reproduce the Standard Webhooks test vector', () => {
    expect(sign(VECTOR.secret, VECTOR.id, VECTOR.timestamp, VECTOR.body)).toBe(VECTOR.signature);
  });

  it('carry one signature per secret, each verifiable on its own', () => {
    const [a, b] = [generateSecret(), generateSecret()];
    const headers = signedHeaders([a, b], 'evt-1', 1700000000, '{}');
    expect(headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(verify(a, 'evt-1', '1700000000', '{}', headers['webhook-signature']!)).toBe(true);
    expect(verify(b, 'evt-1', '1700000000', '{}', headers['webhook-signature']!)).toBe(true);
    expect(verify(generateSecret(), 'evt-1', '1700000000', '{}', headers['webhook-signature']!)).toBe(false);
    expect(verify(a, 'evt-1', '1700000000', '{ }', headers['webhook-signature']!)).toBe(false);
  });

  it('take only whsec_ secrets of 24 to 64 bytes', () => {
    expect(secretKey(generateSecret())?.length).toBe(24);
    expect(secretKey('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')).toBeUndefined();
    expect(secretKey('whsec_c2hvcnQ=')).toBeUndefined();
    expect(secretKey('whsec_not base64!')).toBeUndefined();
    expect(secretKey(`whsec_${'A'.repeat(33)}`)).toBeUndefined();
  });
});

describe('webhook endpoints', () => {
  it('are public addresses unless private delivery is allowed', () => {
    for (const a of ['127.0.0.1', '10.1.2.3', '172.20.0.1', '192.168.1.1', '169.254.169.254', '::1', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '0.0.0.0', 'nonsense']) {
      expect(isPrivateAddress(a), a).toBe(true);
    }
    for (const a of ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946', '::ffff:93.184.216.34']) expect(isPrivateAddress(a), a).toBe(false);
    expect(urlProblem('http://169.254.169.254/latest/meta-data', false)).toMatch(/private/);
    expect(urlProblem('http://[::1]:8080/', false)).toMatch(/private/);
    expect(urlProblem('http://localhost/', false)).toMatch(/private/);
    expect(urlProblem('http://127.0.0.1/', true)).toBeUndefined();
    expect(urlProblem('https://hooks.example.com/x', false)).toBeUndefined();
    expect(urlProblem('ftp://example.com/', false)).toMatch(/http/);
    expect(urlProblem('https://a:b@example.com/', false)).toMatch(/credentials/);
  });

  it('are retried after exponentially growing, capped, jittered pauses', () => {
    const settings = { backoffMs: 100, maxBackoffMs: 1000 };
    expect([1, 2, 3, 4, 5].map((n) => backoff(settings, n, () => 0.5))).toEqual([100, 200, 400, 800, 1000]);
    expect(backoff(settings, 1, () => 0)).toBe(50);
    expect(backoff(settings, 1, () => 0.999999)).toBe(150);
    expect(backoff(settings, 1000, () => 0.5)).toBe(1000);
  });
});

describe('sending to a real receiver', () => {
  it('refuses a name that resolves to loopback, follows no redirect and reads no more than its bound of an answer', async () => {
    const receiver = new WebhookReceiver();
    await receiver.start();
    try {
      // The machine's own name resolves to loopback (/etc/hosts); the check must happen in the socket's lookup.
      const name = hostname();
      const resolved = await lookup(name, { all: true });
      expect(resolved.every((a) => isPrivateAddress(a.address)), `${name} -> ${JSON.stringify(resolved)}`).toBe(true);
      expect(urlProblem(`http://${name}:${receiver.port}/hook`, false)).toBeUndefined();
      const viaDns = await send(`http://${name}:${receiver.port}/hook`, {}, '{}', { timeoutMs: 2000, allowPrivate: false });
      expect(viaDns).toMatchObject({ ok: false, status: 0 });
      expect(viaDns.error).toMatch(/private address/);
      expect(receiver.attempts).toBe(0);

      receiver.mode = 'redirect';
      const redirected = await send(receiver.url, {}, '{}', { timeoutMs: 2000, allowPrivate: true });
      expect(redirected).toMatchObject({ ok: false, status: 307 });
      expect(receiver.attempts).toBe(1);

      receiver.mode = 'flood';
      const flooded = await send(receiver.url, {}, '{}', { timeoutMs: 5000, allowPrivate: true });
      expect(flooded).toMatchObject({ ok: false, status: 500 });
      expect(flooded.error!.length).toBeLessThan(300);
    } finally {
      await receiver.stop();
    }
  });
});
