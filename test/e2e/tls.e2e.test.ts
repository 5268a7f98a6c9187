/**
 * HTTPS and WSS (/v1/ws and /v1/sync) as an operator runs them: `parley serve` with PARLEY_TLS_CERT /
 * PARLEY_TLS_KEY pointing at PEM files signed by a CA the test made and trusts. A renewal
 * is a new file and SIGHUP: new connections see the new certificate (compared by
 * fingerprint) while a WSS connection opened before keeps working; a broken file on
 * SIGHUP keeps the certificate in use and the process. Start-up refuses a bad
 * certificate, and NODE_ENV=production refuses plain HTTP, each with one line naming the
 * settings.
 */
import { copyFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { docNames } from '../../sync/index.js';
import { certificateAuthority, issueCertificate, type Authority, type Issued } from '../helpers/certificates.js';
import { serveToEnd } from '../helpers/cli.js';
import { eventually } from '../helpers/eventually.js';
import { isStep2 } from '../helpers/hostile-sync.js';
import { spawnNode, TEST_SECRET, tokenFor, type SpawnedNode } from '../helpers/node.js';
import { tempDir } from '../helpers/temp-dir.js';
import { connectWs, type TestSocket } from '../helpers/ws-client.js';

const dir = tempDir('parley-tls-');
let ca: Authority;
let first: Issued;
let second: Issued;
let node: SpawnedNode;
let log: string[] = [];
/** The files the node is configured with; a renewal copies another certificate over them. */
const live = { certFile: join(dir.path, 'live.crt'), keyFile: join(dir.path, 'live.key') };

function install(cert: Issued): void {
  copyFileSync(cert.keyFile, live.keyFile);
  copyFileSync(cert.certFile, live.certFile);
}

/** The fingerprint of the certificate a new TLS connection to the node is given. */
function servedFingerprint(url: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: hostname, port: Number(port), ca: ca.pem }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.end();
    });
    socket.once('error', reject);
  });
}

/** A JSON request over HTTPS on a fresh connection trusting only the test's CA (`trust: null`: the system's CAs). */
function https(url: string, options: { method?: string; token?: string; body?: unknown; trust?: string | null } = {}): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {
    ...(options.token && { authorization: `Bearer ${options.token}` }),
    ...(options.body !== undefined && { 'content-type': 'application/json' }),
  };
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', ca: options.trust === null ? undefined : ca.pem, agent: false, headers }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.once('error', reject);
    req.end(options.body === undefined ? undefined : JSON.stringify(options.body));
  });
}

/** The node's log lines as they come (pino JSON, one per line). */
function recordLog(child: SpawnedNode): void {
  let pending = '';
  child.process.stdout!.on('data', (chunk: Buffer) => {
    const lines = (pending + chunk.toString()).split('\n');
    pending = lines.pop() ?? '';
    log.push(...lines);
  });
}

/** Waits for a log line with `msg`, from `from` on; returns it parsed. */
function logLine(msg: string, from: number): Promise<any> {
  return eventually(() => {
    const line = log.slice(from).find((l) => l.includes(`"msg":"${msg}`));
    if (!line) throw new Error(`no "${msg}" in the node's log`);
    return JSON.parse(line);
  }, 10_000);
}

beforeAll(async () => {
  ca = certificateAuthority(dir.path);
  first = issueCertificate(ca, dir.path, 'first');
  second = issueCertificate(ca, dir.path, 'second');
  install(first);
  node = await spawnNode(join(dir.path, 'data'), { PARLEY_TLS_CERT: live.certFile, PARLEY_TLS_KEY: live.keyFile });
  recordLog(node);
});

afterAll(async () => {
  await node?.kill('SIGKILL');
  dir.remove();
});

describe('HTTPS and WSS', () => {
  let conversationId: string;

  it('serves HTTPS and WSS with the configured certificate to a client trusting its CA', async () => {
    expect(node.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(await servedFingerprint(node.url)).toBe(first.fingerprint256);
    expect(await https(`${node.url}/health`)).toMatchObject({ status: 200 });
    // Really TLS with the test's CA: a client that trusts only the system's CAs refuses it.
    await expect(https(`${node.url}/health`, { trust: null })).rejects.toThrow(/certificate/);

    const created = await https(`${node.url}/v1/conversations`, { method: 'POST', token: tokenFor('alice'), body: { title: 'tls', members: ['bob'] } });
    expect(created.status).toBe(201);
    conversationId = created.body.id;

    const bob = await connectWs(node.url, tokenFor('bob'), { ca: ca.pem });
    await bob.next((f) => f.type === 'ready');
    const ack = await bob.command('over-wss', { type: 'PostMessage', conversationId, text: 'over wss' });
    expect(ack).toMatchObject({ type: 'ack' });
    const history = await https(`${node.url}/v1/conversations/${conversationId}/messages`, { token: tokenFor('alice') });
    expect(history.status).toBe(200);
    expect(JSON.stringify(history.body)).toContain('over wss');
    bob.close();

    // The Yjs sync endpoint rides the same server: a document syncs over WSS.
    const sync = new WebSocket(`${node.url.replace(/^https/, 'wss')}/v1/sync/${encodeURIComponent(docNames.notes(conversationId))}`, {
      ca: ca.pem,
      headers: { authorization: `Bearer ${tokenFor('alice')}` },
    });
    const frames: Uint8Array[] = [];
    sync.on('message', (d: Buffer) => frames.push(new Uint8Array(d)));
    await new Promise((resolve, reject) => sync.once('open', resolve).once('error', reject));
    sync.send(new Uint8Array([0, 0, 1, 0])); // sync step 1, empty state vector
    await eventually(() => expect(frames.some(isStep2)).toBe(true));
    sync.close();
  });

  it('SIGHUP with a renewed certificate: new connections get it, an open WSS connection stays up', async () => {
    const bob: TestSocket = await connectWs(node.url, tokenFor('bob'), { ca: ca.pem });
    await bob.next((f) => f.type === 'ready');
    install(second);
    const from = log.length;
    node.process.kill('SIGHUP');
    const reloaded = await logLine('TLS certificate reloaded', from);
    expect(reloaded.certificate.fingerprint256).toBe(second.fingerprint256);
    expect(await servedFingerprint(node.url)).toBe(second.fingerprint256);

    // The socket opened with the old certificate still carries commands both ways.
    const ack = await bob.command('after-reload', { type: 'PostMessage', conversationId, text: 'after reload' });
    expect(ack).toMatchObject({ type: 'ack' });
    expect(bob.ws.readyState).toBe(bob.ws.OPEN);
    bob.close();
  });

  it('SIGHUP with a broken certificate file keeps the certificate in use and the process', async () => {
    const bob = await connectWs(node.url, tokenFor('bob'), { ca: ca.pem });
    await bob.next((f) => f.type === 'ready');
    const before = await servedFingerprint(node.url);
    writeFileSync(live.certFile, '-----BEGIN CERTIFICATE-----\nhalf a renewal\n');
    let from = log.length;
    node.process.kill('SIGHUP');
    const failed = await logLine('TLS certificate reload failed', from);
    expect(failed.level).toBe(50);
    // A key that is not the certificate's is refused too (the renewal wrote only the key).
    copyFileSync(second.certFile, live.certFile);
    copyFileSync(first.keyFile, live.keyFile);
    from = log.length;
    node.process.kill('SIGHUP');
    expect((await logLine('TLS certificate reload failed', from)).err.message).toMatch(/key values mismatch/);

    expect(node.process.exitCode).toBeNull();
    expect(await servedFingerprint(node.url)).toBe(before);
    expect(await https(`${node.url}/health`)).toMatchObject({ status: 200 });
    expect(await bob.command('after-bad-reload', { type: 'PostMessage', conversationId, text: 'still here' })).toMatchObject({ type: 'ack' });
    bob.close();
  });
});

/** Runs `parley serve` to its end; it must fail on its own. */
const failedStart = (env: Record<string, string>) => serveToEnd({ PARLEY_JWT_SECRET: TEST_SECRET, ...env });

describe('refusals at start-up', () => {
  it('a certificate file that is not PEM: one line naming the file and PARLEY_TLS_CERT', async () => {
    const bad = join(dir.path, 'bad.crt');
    writeFileSync(bad, 'not a certificate');
    const run = await failedStart({ DATA_DIR: join(dir.path, 'bad'), PARLEY_TLS_CERT: bad, PARLEY_TLS_KEY: first.keyFile });
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^parley serve: cannot serve HTTPS with .*bad\.crt.*PARLEY_TLS_CERT/)]);
  }, 60_000);

  it('NODE_ENV=production without TLS or a declared TLS proxy: says what to set', async () => {
    const run = await failedStart({ DATA_DIR: join(dir.path, 'prod'), NODE_ENV: 'production' });
    expect(run.code).toBe(1);
    const line = run.stderr.trim();
    for (const setting of ['PARLEY_TLS_CERT', 'PARLEY_TLS_KEY', 'PARLEY_TLS_TERMINATED_BY_PROXY=1']) expect(line).toContain(setting);
  }, 60_000);
});
