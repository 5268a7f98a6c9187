/**
 * One authenticated WebSocket: reads client frames, answers with acks and errors, and
 * holds the socket's subscriptions. Bad frames get a coded error and change nothing;
 * only a client that keeps flooding after being told is disconnected.
 *
 * Everything a client can make the node hold through this socket is bounded: distinct
 * conversations per subscribe frame, subscriptions per socket and per user (past them,
 * `limit_exceeded`), catch-ups running at once (the rest wait in line), and the send
 * buffer (see send-buffer.ts). A frame naming a conversation twice subscribes once, from
 * the last entry; a subscription replaced or dropped stops its catch-up at once.
 *
 * An idle socket costs little: the subscription map, the catch-up slots and the rate
 * limiter's bucket are made when first needed, and the listeners are the gateway's,
 * shared by every socket.
 */
import { isUtf8 } from 'node:buffer';
import type { WebSocket } from 'ws';
import { CLOSE, ParleyError, isParleyError, type ClientFrame, type ErrorBody, type SubscribeFrom } from '../../protocol/index.js';
import { isStoreUnavailableError } from '../store/index.js';
import { CatchUpSlots } from './catch-up-slots.js';
import type { EncodedFrame } from './encoded-frame.js';
import type { Recipient } from './fan-out.js';
import { errorFrame, frame, type LiveRun } from './frames.js';
import { checkFrame } from './schemas.js';
import { SendBuffer, type SlowCloseListener } from './send-buffer.js';
import type { SessionHost } from './session-host.js';
import { Subscription, type SubscriptionSink } from './subscription.js';
import { TokenBucket } from './rate-limit.js';

/** Rate-limited frames within STRIKE_WINDOW_MS after which a client is disconnected. */
const MAX_STRIKES = 200;
const STRIKE_WINDOW_MS = 10_000;
/** Catch-ups one socket runs at the same time; its other subscriptions wait their turn. */
const CATCH_UPS_AT_ONCE = 4;

const NO_SUBSCRIPTIONS: ReadonlyMap<string, Subscription> = new Map();

export class Session implements SubscriptionSink, SlowCloseListener, Recipient {
  /** Made at the first subscription. */
  private subs: Map<string, Subscription> | undefined;
  private bucket: TokenBucket | undefined;
  private readonly buffer: SendBuffer;
  private slots: CatchUpSlots | undefined;
  private strikes = 0;
  private strikesSince = 0;
  /** Commands taken and not yet answered; a node that drains waits for them (`quiesce`). */
  private commandsInFlight = 0;
  /** Set by `quiesce`: frames are no longer read; wakes it when the last command is answered. */
  private quiesced: { wake: () => void } | undefined;

  constructor(
    private readonly socket: WebSocket,
    readonly userId: string,
    private readonly host: SessionHost,
  ) {
    this.buffer = new SendBuffer(socket, host.sendLimits, this);
  }

  private get subscriptions(): ReadonlyMap<string, Subscription> {
    return this.subs ?? NO_SUBSCRIPTIONS;
  }

  slowClosed(reason: string): void {
    this.host.metrics.slowConsumers.inc({ action: 'close' });
    this.host.log.warn({ userId: this.userId, reason }, 'slow consumer closed');
  }

  get open(): boolean {
    return this.buffer.open;
  }

  get congested(): boolean {
    return this.buffer.congested;
  }

  get chunkBytes(): number {
    return this.buffer.chunkBytes;
  }

  send(f: string | EncodedFrame): void {
    this.buffer.send(f);
  }

  sendPaced(f: string): void {
    this.buffer.sendPaced(f);
  }

  /** Frames that may be lost (typing): dropped while the client is not reading. */
  sendEphemeral(f: string | EncodedFrame): void {
    this.buffer.sendEphemeral(f);
  }

  drained(): Promise<void> {
    return this.buffer.drained();
  }

  catchUpSlot(): Promise<() => void> {
    return (this.slots ??= new CatchUpSlots(CATCH_UPS_AT_ONCE)).acquire();
  }

  async stillMember(conversationId: string, position: number): Promise<boolean> {
    await this.host.readModelsAt(position);
    return this.host.isMember(conversationId, this.userId);
  }

  ended(sub: Subscription, body: ErrorBody): void {
    if (this.subscriptions.get(sub.conversationId) !== sub) return;
    this.dropSubscription(sub.conversationId);
    this.fail(body, { conversationId: sub.conversationId });
  }

  failed(sub: Subscription, err: unknown): void {
    if (isParleyError(err)) return this.ended(sub, err.toBody());
    if (isStoreUnavailableError(err)) return this.ended(sub, new ParleyError('unavailable').toBody());
    this.host.log.error({ err, userId: this.userId, conversationId: sub.conversationId }, 'catch-up failed');
    this.ended(sub, new ParleyError('internal').toBody());
  }

  fellBack(): void {
    this.host.metrics.slowConsumers.inc({ action: 'fallback' });
  }

  tooSlow(reason: string): void {
    this.buffer.closeSlow(reason);
  }

  /** Live events of one conversation from the feed (see fan-out.ts). */
  offer(run: LiveRun): void {
    const sub = this.subs?.get(run.conversationId);
    if (!sub) return;
    // A command of this socket's is waiting for its commit, which may be this one: its ack
    // then follows in this turn, and leaves in the same write as these events.
    if (this.commandsInFlight > 0) this.buffer.holdWrites();
    sub.offer(run);
  }

  /**
   * The user left the conversation (event `seq`): the subscription ends. A client whose
   * subscription had not yet delivered that event (it was catching up) is told.
   */
  memberLeft(conversationId: string, seq: number): void {
    const sub = this.subscriptions.get(conversationId);
    if (!sub) return;
    this.dropSubscription(conversationId);
    if (!sub.delivered(seq)) {
      this.fail({ code: 'forbidden', message: 'You are no longer a member of this conversation' }, { conversationId });
    }
  }

  dropSubscription(conversationId: string): void {
    const sub = this.subscriptions.get(conversationId);
    if (!sub) return;
    sub.stop();
    this.subs!.delete(conversationId);
    this.host.fanOut.remove(conversationId, this);
    this.host.subscriptionsChanged(this.userId, -1);
  }

  /** Releases everything the socket held. */
  closed(): void {
    for (const id of [...this.subscriptions.keys()]) this.dropSubscription(id);
    this.buffer.release();
  }

  /**
   * Stops reading frames and resolves once every command already taken has been answered
   * (its ack or error is queued ahead of any close frame). Frames that arrive later are
   * dropped unread: the socket is about to close with 4503 and the client resends its
   * outbox, under the same command ids, wherever it reconnects.
   */
  quiesce(): Promise<void> {
    if (this.commandsInFlight === 0) {
      this.quiesced ??= { wake: () => undefined };
      return Promise.resolve();
    }
    return new Promise((resolve) => (this.quiesced = { wake: resolve }));
  }

  async onMessage(data: Buffer, isBinary: boolean): Promise<void> {
    if (this.quiesced) return;
    let id: string | undefined;
    try {
      if (!this.host.allow(this.userId, (this.bucket ??= new TokenBucket(this.host.limits.rateLimitPerConnection)))) return this.struck();
      if (isBinary) return this.fail({ code: 'invalid_request', message: 'Binary frames are not part of this protocol' });
      if (!isUtf8(data)) return this.fail(new ParleyError('invalid_utf8').toBody());
      let parsed: unknown;
      try {
        parsed = JSON.parse(data.toString('utf8'));
      } catch {
        return this.fail(new ParleyError('invalid_json').toBody());
      }
      const maybeId = (parsed as { id?: unknown } | null)?.id;
      // Echoed for correlation only when it could be a valid id: a bad frame is not mirrored back.
      id = typeof maybeId === 'string' && maybeId.length <= 200 ? maybeId : undefined;
      const check = checkFrame(parsed);
      if (!check.ok) return this.fail({ code: check.code, message: check.message }, { id });
      await this.dispatch(parsed as ClientFrame);
    } catch (err) {
      if (isParleyError(err)) return this.fail(err.toBody(), { id });
      this.host.log.error({ err, userId: this.userId }, 'frame handling failed');
      this.fail(new ParleyError('internal').toBody(), { id });
    }
  }

  private struck(): void {
    const now = Date.now();
    if (now - this.strikesSince > STRIKE_WINDOW_MS) {
      this.strikes = 0;
      this.strikesSince = now;
    }
    this.strikes += 1;
    if (this.strikes > MAX_STRIKES) this.socket.close(CLOSE.policyViolation, 'rate limit exceeded repeatedly');
    else this.fail(new ParleyError('rate_limited').toBody());
  }

  private async dispatch(f: ClientFrame): Promise<void> {
    switch (f.type) {
      case 'command': {
        // Over the socket the command id is the correlation id, in the log and in the events.
        // Both lines are debug: one per command is the hot path (counts are in
        // parley_commands_total), and refusals are as frequent as a client makes them.
        const log = this.host.log;
        this.commandsInFlight += 1;
        try {
          const outcome = await this.host.commands.handle(this.userId, f.command, f.id);
          log.debug({ correlationId: f.id, userId: this.userId, command: f.command.type, seq: outcome.result.seq, duplicate: outcome.duplicate }, 'command handled');
          this.send(frame({ type: 'ack', id: f.id, result: outcome.result, duplicate: outcome.duplicate }));
        } catch (err) {
          log.debug({ correlationId: f.id, userId: this.userId, command: f.command.type, code: (err as { code?: string }).code }, 'command refused');
          // Answered here, not by onMessage's catch, so the error goes out before a drain's close.
          if (isParleyError(err)) return this.fail(err.toBody(), { id: f.id });
          throw err;
        } finally {
          this.buffer.releaseWrites();
          this.commandsInFlight -= 1;
          if (this.commandsInFlight === 0) this.quiesced?.wake();
        }
        return;
      }
      case 'subscribe':
        return this.subscribe(f.conversations);
      case 'unsubscribe':
        for (const id of f.conversationIds) this.dropSubscription(id);
        return;
      case 'typing':
        if (this.subscriptions.has(f.conversationId)) this.host.fanOut.typing(f.conversationId, this);
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

  /**
   * Subscribes to each conversation named (once each, from its last entry). Catch-ups are
   * started, not awaited: they run in the socket's slots and report their own failures.
   */
  private async subscribe(entries: SubscribeFrom[]): Promise<void> {
    const wanted = new Map<string, number>();
    for (const e of entries) {
      wanted.delete(e.conversationId);
      wanted.set(e.conversationId, e.afterSeq);
    }
    const { maxSubscribeEntries, maxSubscriptionsPerSocket, maxSubscriptionsPerUser, catchUpLimit, slowConsumerSeconds } = this.host.limits;
    if (wanted.size > maxSubscribeEntries) {
      throw new ParleyError('limit_exceeded', `A subscribe frame may name at most ${maxSubscribeEntries} conversations`);
    }
    await this.host.consistentReads();
    for (const [conversationId, afterSeq] of wanted) {
      if (!this.open) return;
      if (!(await this.member(conversationId))) {
        this.fail(new ParleyError('forbidden').toBody(), { conversationId });
        continue;
      }
      const replaced = this.subscriptions.get(conversationId);
      if (replaced) {
        replaced.stop();
      } else if (this.subscriptions.size >= maxSubscriptionsPerSocket || !this.host.subscriptionsChanged(this.userId, +1)) {
        const message = `At most ${maxSubscriptionsPerSocket} subscriptions per connection and ${maxSubscriptionsPerUser} per user`;
        this.fail({ code: 'limit_exceeded', message }, { conversationId });
        continue;
      }
      const sub = new Subscription(conversationId, this.userId, afterSeq, this, this.host.streams, {
        catchUpLimit,
        slowConsumerMs: slowConsumerSeconds * 1000,
      });
      (this.subs ??= new Map()).set(conversationId, sub);
      // Registered before catching up, so nothing committed meanwhile is missed.
      this.host.fanOut.add(conversationId, this);
      sub.start().catch((err: unknown) => this.failed(sub, err));
    }
  }

  /** Per the read models; a refusal is checked once more against the whole log (on a cluster, another node may have added the user). */
  private async member(conversationId: string): Promise<boolean> {
    if (this.host.isMember(conversationId, this.userId)) return true;
    await this.host.caughtUpWithLog();
    return this.host.isMember(conversationId, this.userId);
  }

  private fail(body: ErrorBody, extra: { id?: string; conversationId?: string } = {}): void {
    this.host.metrics.errorsSent.inc({ code: body.code });
    this.send(errorFrame(body, extra));
  }
}
