/**
 * Flushes the outbox over the socket: oldest first, one command at a time, each sent
 * until it is acked or refused for good. The server handles a socket's frames
 * concurrently, so waiting for each ack is what keeps the server's order equal to the
 * outbox's. Re-sending after a reconnect is safe: the command id makes it idempotent.
 */
import type { CommandResult, ErrorCode, ServerFrame } from '../protocol/index.js';
import { backoffDelay } from './backoff.js';
import type { Connection } from './connection.js';
import { localIdFor } from './ids.js';
import type { Outbox, OutboxItem } from './outbox.js';

/** A command the server refused for good (or that depended on one); it left the outbox. */
export interface OutboxFailure {
  item: OutboxItem;
  code: ErrorCode | 'dependency_failed';
  message: string;
}

/** Codes that mean "not now" rather than "never": the command stays and is retried. */
const TRANSIENT = new Set<ErrorCode>(['rate_limited', 'unavailable', 'conflict', 'internal']);
const ACK_TIMEOUT_MS = 30_000;

type Reply = Extract<ServerFrame, { type: 'ack' } | { type: 'error' }>;

export class Sender {
  private running = false;
  private readonly waiting = new Map<string, (reply: Reply | undefined) => void>();

  constructor(
    private readonly outbox: Outbox,
    private readonly connection: Connection,
    private readonly events: {
      /** Before the command leaves the outbox, so the view never shows a gap between pending and confirmed. */
      confirmed(item: OutboxItem, result: CommandResult): void;
      acked(item: OutboxItem, result: CommandResult): void;
      failed(failure: OutboxFailure): void;
    },
  ) {}

  /** Routes an ack or error frame to the command waiting for it. */
  onReply(frame: Reply): void {
    if (frame.id) this.waiting.get(frame.id)?.(frame);
  }

  /** The socket is gone: whatever was in flight is sent again on the next connection. */
  onDisconnect(): void {
    for (const resolve of [...this.waiting.values()]) resolve(undefined);
  }

  /** Starts flushing if online and not already flushing. */
  kick(): void {
    if (this.running || this.connection.state.get().status !== 'online') return;
    this.running = true;
    let stopped = false;
    // A storage that fails (quota, disk full) made flush reject with nothing to catch it:
    // an unhandled rejection, which ends a Node app. The item stays in the outbox and is
    // sent again (idempotently) at the next kick: a reconnect or a new command.
    void this.flush()
      .then((end) => (stopped = end === 'socket refused'))
      .catch(() => {
        stopped = true;
      })
      .finally(() => {
        this.running = false;
        // Something may have been added after the loop looked for the last time. Not when
        // the socket refused the frame: a socket the server is closing (a node draining
        // sends 4503) still reads `online` until its close event, and kicking again at
        // once spun in microtasks that never let that event run. The reconnect kicks.
        if (!stopped && this.outbox.items.get().length > 0 && this.connection.state.get().status === 'online') this.kick();
      });
  }

  /** Sends the outbox until it is empty, the connection drops, or the socket will not take a frame. */
  private async flush(): Promise<'empty' | 'offline' | 'socket refused'> {
    let retries = 0;
    while (this.connection.state.get().status === 'online') {
      const item = this.outbox.items.get()[0];
      if (!item) return 'empty';
      const command = this.outbox.resolved(item.command);
      if (!command) {
        await this.fail({ item, code: 'dependency_failed', message: 'A command it depends on was refused' });
        continue;
      }
      const reply = await this.request(item.id, command);
      if (reply === 'socket refused') return reply;
      if (!reply) return 'offline';
      if (reply.type === 'ack') {
        retries = 0;
        this.events.confirmed(item, reply.result);
        await this.outbox.settle(item.id, reply.result);
        this.events.acked(item, reply.result);
      } else if (TRANSIENT.has(reply.code)) {
        await new Promise((r) => setTimeout(r, backoffDelay(retries++)));
      } else {
        await this.fail({ item, code: reply.code, message: reply.message });
      }
    }
    return 'offline';
  }

  private request(id: string, command: OutboxItem['command']): Promise<Reply | undefined | 'socket refused'> {
    return new Promise((resolve) => {
      const done = (reply: Reply | undefined | 'socket refused') => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve(reply);
      };
      // No answer in time: give up on this socket's answer; the loop ends and the next kick resends.
      const timer = setTimeout(() => done(undefined), ACK_TIMEOUT_MS);
      this.waiting.set(id, done);
      if (!this.connection.send({ type: 'command', id, command })) done('socket refused');
    });
  }

  private async fail(failure: OutboxFailure): Promise<void> {
    this.events.failed(failure);
    await this.outbox.settle(failure.item.id);
    for (const dependent of this.outbox.dependentsOf(localIdFor(failure.item.id))) {
      await this.fail({ item: dependent, code: 'dependency_failed', message: `It depends on command ${failure.item.id}, which was refused` });
    }
  }
}
