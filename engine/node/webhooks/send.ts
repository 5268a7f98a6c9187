/**
 * One signed POST to an endpoint, bounded: a timeout from connect to the last byte read,
 * at most MAX_RESPONSE_BYTES of the answer kept (for the error message), redirects never
 * followed (a 3xx is a failure), and unless private delivery is allowed, only public
 * addresses: the check runs in the socket's own DNS lookup, so the address checked is
 * the address connected to (no DNS rebinding between check and connect).
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { MAX_RESPONSE_BYTES } from './settings.js';

export interface SendResult {
  ok: boolean;
  /** HTTP status, or 0 when no answer came. */
  status: number;
  error?: string;
}

const PRIVATE = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) PRIVATE.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['64:ff9b::', 96]] as const) {
  PRIVATE.addSubnet(net, bits, 'ipv6');
}

export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return PRIVATE.check(address, 'ipv4');
  if (family !== 6) return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? PRIVATE.check(mapped[1]!, 'ipv4') : PRIVATE.check(address, 'ipv6');
}

/** A DNS lookup that fails for private addresses. */
const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
    if (err) return callback(err, '', 4);
    const bad = addresses.find((a) => isPrivateAddress(a.address));
    if (bad) return callback(Object.assign(new Error(`${hostname} resolves to a private address (${bad.address})`), { code: 'EPRIVATE' }), '', 4);
    const list = addresses as LookupAddress[];
    if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
    callback(null, list[0]!.address, list[0]!.family);
  });
};

/** Why a URL cannot be an endpoint, or undefined when it can. */
export function urlProblem(raw: string, allowPrivate: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'not a URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'only http: and https: URLs';
  if (url.username || url.password) return 'no credentials in the URL (use the signature to authenticate)';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!allowPrivate && (isIP(host) ? isPrivateAddress(host) : host === 'localhost' || host.endsWith('.localhost'))) {
    return 'a private or loopback address (set PARLEY_WEBHOOK_ALLOW_PRIVATE=true to allow)';
  }
  return undefined;
}

export function send(rawUrl: string, headers: Record<string, string>, body: string, options: { timeoutMs: number; allowPrivate: boolean; signal?: AbortSignal }): Promise<SendResult> {
  const problem = urlProblem(rawUrl, options.allowPrivate);
  if (problem) return Promise.resolve({ ok: false, status: 0, error: problem });
  const url = new URL(rawUrl);
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: SendResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve(r);
    };
    const req = client.request(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'user-agent': 'parley-webhooks/1' },
        agent: false,
        ...(!options.allowPrivate && { lookup: publicOnlyLookup }),
        signal: options.signal,
      },
      (res) => {
        const status = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let kept = 0;
        res.on('data', (chunk: Buffer) => {
          if (kept < MAX_RESPONSE_BYTES) {
            chunks.push(chunk.subarray(0, MAX_RESPONSE_BYTES - kept));
            kept += Math.min(chunk.length, MAX_RESPONSE_BYTES - kept);
          }
          // Past the bound the answer is not read on: a 2xx is all that counts.
          if (kept >= MAX_RESPONSE_BYTES) end();
        });
        const end = () => {
          const ok = status >= 200 && status < 300;
          const text = Buffer.concat(chunks).toString('utf8').replace(/\s+/g, ' ').slice(0, 200);
          finish(ok ? { ok, status } : { ok, status, error: `HTTP ${status}${text ? `: ${text}` : ''}` });
        };
        res.on('end', end);
        res.on('error', (err) => finish({ ok: false, status, error: err.message }));
      },
    );
    const timer = setTimeout(() => finish({ ok: false, status: 0, error: `no answer within ${options.timeoutMs} ms` }), options.timeoutMs);
    req.on('error', (err) => finish({ ok: false, status: 0, error: err.message }));
    req.end(body);
  });
}
