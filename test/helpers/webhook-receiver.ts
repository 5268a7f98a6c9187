/**
 * A real webhook receiver for tests: a node:http server that verifies Standard Webhooks
 * signatures with its own code (not the node's), records what it accepted, and can be
 * told to fail (500), hang (never answer) or be closed and reopened on the same port.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** Fast retries, short timeouts and leases, and loopback receivers allowed: the node side of these tests. */
export const WEBHOOK_TEST_ENV = {
  PARLEY_WEBHOOK_ALLOW_PRIVATE: 'true',
  PARLEY_WEBHOOK_MAX_ATTEMPTS: '3',
  PARLEY_WEBHOOK_BACKOFF_MS: '20',
  PARLEY_WEBHOOK_MAX_BACKOFF_MS: '100',
  PARLEY_WEBHOOK_TIMEOUT_MS: '400',
  PARLEY_WEBHOOK_LEASE_MS: '1500',
  PARLEY_WEBHOOK_COMMIT_MS: '50',
};

export type ReceiverMode = 'ok' | 'fail' | 'hang' | 'redirect' | 'flood';

export interface Delivery {
  id: string;
  timestamp: number;
  type: string;
  conversationId: string;
  seq: number;
  position: number;
  /** How many of the receiver's secrets matched a signature of the header. */
  secretsMatched: number;
  signatureCount: number;
}

/** The spec's check, written from it: HMAC-SHA256 over `${id}.${ts}.${body}` with the base64 key after `whsec_`. */
export function verify(secret: string, id: string, timestamp: string, body: string, header: string): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest();
  return header.split(' ').some((part) => {
    const [version, sig] = part.split(',');
    if (version !== 'v1' || !sig) return false;
    const got = Buffer.from(sig, 'base64');
    return got.length === expected.length && timingSafeEqual(got, expected);
  });
}

export class WebhookReceiver {
  mode: ReceiverMode = 'ok';
  /** Secrets the receiver accepts; a delivery signed with none of them is answered 401. */
  secrets: string[] = [];
  readonly accepted: Delivery[] = [];
  /** Requests seen, accepted or not (attempts). */
  attempts = 0;
  rejected = 0;
  private server: http.Server | null = null;
  private hanging: http.ServerResponse[] = [];
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  async start(): Promise<void> {
    const server = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => this.handle(req, res, body));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Closes the server and every open connection (a receiver that went down). */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const res of this.hanging.splice(0)) res.destroy();
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse, body: string): void {
    this.attempts += 1;
    if (this.mode === 'hang') {
      this.hanging.push(res);
      return;
    }
    if (this.mode === 'redirect') {
      res.writeHead(307, { location: this.url }).end();
      return;
    }
    if (this.mode === 'flood') {
      // A 500 with a body far past what a sender should read.
      res.writeHead(500);
      res.end('x'.repeat(4 * 1024 * 1024));
      return;
    }
    if (this.mode === 'fail') {
      res.writeHead(500).end('failing on purpose');
      return;
    }
    const id = String(req.headers['webhook-id'] ?? '');
    const timestamp = String(req.headers['webhook-timestamp'] ?? '');
    const header = String(req.headers['webhook-signature'] ?? '');
    const matched = this.secrets.filter((s) => verify(s, id, timestamp, body, header)).length;
    const fresh = Math.abs(Date.now() / 1000 - Number(timestamp)) < 300;
    if (matched === 0 || !fresh) {
      this.rejected += 1;
      res.writeHead(401).end('bad signature');
      return;
    }
    const payload = JSON.parse(body) as { type: string; data: { id: string; conversationId: string; seq: number; position: number } };
    this.accepted.push({
      id,
      timestamp: Number(timestamp),
      type: payload.type,
      conversationId: payload.data.conversationId,
      seq: payload.data.seq,
      position: payload.data.position,
      secretsMatched: matched,
      signatureCount: header.split(' ').length,
    });
    res.writeHead(204).end();
  }
}
