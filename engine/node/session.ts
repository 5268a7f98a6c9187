/**
 * One authenticated WebSocket: reads client frames, answers with acks and errors, and
 * holds the socket's subscriptions. Bad frames get a coded error and change nothing;
 * only a client that keeps flooding after being told is disconnected.
 */
import { isUtf8 } from 'node:buffer';
import type { WebSocket } from 'ws';
import { CLOSE, ParleyError, isParleyError, type ClientFrame, type ErrorBody } from '../../protocol/index.js';
import { isMember } from '../../projections/index.js';
import { errorFrame, frame } from './frames.js';
import type { Gateway } from './gateway.js';
import { checkFrame } from './schemas.js';
import { Subscription, type FrameSink } from './subscription.js';
import { TokenBucket } from './rate-limit.js';

/** Rate-limited frames within STRIKE_WINDOW_MS after which a client is disconnected. */
const MAX_STRIKES = 200;
const STRIKE_WINDOW_MS = 10_000;
const HIGH_WATER_BYTES = 1 << 20;

export class Session implements FrameSink {
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly bucket: TokenBucket;
  private strikes = 0;
  private strikesSince = 0;

  constructor(
    private readonly socket: WebSocket,
    readonly userId: string,
    private readonly gw: Gateway,
  ) {
    this.bucket = new TokenBucket(gw.config.rateLimitPerConnection);
  }

  get open(): boolean {
    return this.socket.readyState === this.socket.OPEN;
  }

  send(f: string): void {
    if (this.open) this.socket.send(f);
  }

  async drained(): Promise<void> {
    while (this.open && this.socket.bufferedAmount > HIGH_WATER_BYTES) await new Promise((r) => setTimeout(r, 5));
  }

  offer(conversationId: string, seq: number, serialized: string): void {
    this.subscriptions.get(conversationId)?.offer(seq, serialized);
  }

  dropSubscription(conversationId: string): void {
    this.subscriptions.delete(conversationId);
    this.gw.fanOut.remove(conversationId, this);
  }

  /** Releases everything the socket held. */
  closed(): void {
    for (const id of [...this.subscriptions.keys()]) this.dropSubscription(id);
  }

  async onMessage(data: Buffer, isBinary: boolean): Promise<void> {
    if (!this.gw.allow(this.userId, this.bucket)) {
      const now = Date.now();
      if (now - this.strikesSince > STRIKE_WINDOW_MS) {
        this.strikes = 0;
        this.strikesSince = now;
      }
      this.strikes += 1;
      if (this.strikes > MAX_STRIKES) this.socket.close(CLOSE.policyViolation, 'rate limit exceeded repeatedly');
      else this.fail(new ParleyError('rate_limited').toBody());
      return;
    }
    if (isBinary) return this.fail({ code: 'invalid_request', message: 'Binary frames are not part of this protocol' });
    if (!isUtf8(data)) return this.fail(new ParleyError('invalid_utf8').toBody());
    let parsed: unknown;
    try {
      parsed = JSON.parse(data.toString('utf8'));
    } catch {
      return this.fail(new ParleyError('invalid_json').toBody());
    }
    const check = checkFrame(parsed);
    const id = typeof (parsed as { id?: unknown })?.id === 'string' ? (parsed as { id: string }).id : undefined;
    if (!check.ok) return this.fail({ code: check.code, message: check.message }, { id });
    try {
      await this.dispatch(parsed as ClientFrame);
    } catch (err) {
      if (isParleyError(err)) return this.fail(err.toBody(), { id });
      this.gw.log.error({ err, userId: this.userId }, 'frame handling failed');
      this.fail(new ParleyError('internal').toBody(), { id });
    }
  }

  private async dispatch(f: ClientFrame): Promise<void> {
    switch (f.type) {
      case 'command': {
        // Over the socket the command id is the correlation id, in the log and in the events.
        const log = { correlationId: f.id, userId: this.userId, command: f.command.type };
        try {
          const outcome = await this.gw.commands.handle(this.userId, f.command, f.id);
          this.gw.log.info({ ...log, seq: outcome.result.seq, duplicate: outcome.duplicate }, 'command handled');
          this.send(frame({ type: 'ack', id: f.id, result: outcome.result, duplicate: outcome.duplicate }));
        } catch (err) {
          this.gw.log.info({ ...log, code: (err as { code?: string }).code }, 'command refused');
          throw err;
        }
        return;
      }
      case 'subscribe':
        await Promise.all(f.conversations.map((c) => this.subscribe(c.conversationId, c.afterSeq)));
        return;
      case 'unsubscribe':
        for (const id of f.conversationIds) this.dropSubscription(id);
        return;
      case 'typing':
        if (this.subscriptions.has(f.conversationId)) this.gw.fanOut.typing(f.conversationId, this);
        else this.fail(new ParleyError('forbidden').toBody(), { conversationId: f.conversationId });
        return;
      case 'ping':
        this.send(frame(f.id === undefined ? { type: 'pong' } : { type: 'pong', id: f.id }));
        return;
      case 'auth':
        // Already authenticated: a second auth frame changes nothing.
        return;
    }
  }

  private async subscribe(conversationId: string, afterSeq: number): Promise<void> {
    await this.gw.consistentReads();
    if (!isMember(this.gw.readModels, conversationId, this.userId)) {
      return this.fail(new ParleyError('forbidden').toBody(), { conversationId });
    }
    if (this.subscriptions.has(conversationId)) this.dropSubscription(conversationId);
    const sub = new Subscription(conversationId, afterSeq, this, this.gw.store, { catchUpLimit: this.gw.config.catchUpLimit });
    this.subscriptions.set(conversationId, sub);
    // Registered before catching up, so nothing committed meanwhile is missed.
    this.gw.fanOut.add(conversationId, this);
    await sub.start();
  }

  private fail(body: ErrorBody, extra: { id?: string; conversationId?: string } = {}): void {
    this.gw.metrics.errorsSent.inc({ code: body.code });
    this.send(errorFrame(body, extra));
  }
}
