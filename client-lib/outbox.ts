/**
 * The outbox: every action the app takes becomes a command with a client-generated id,
 * written to storage before anything is sent, and removed only after the server acked it
 * (or refused it with a final error). It survives restarts, so a client closed while
 * offline flushes on its next run.
 *
 * Commands may refer to things that do not have a server id yet — a conversation created
 * offline, a message not yet acked — by local id (`local:<command id>`). When the
 * creating command is acked the outbox records `local id → server id` durably and
 * rewrites later commands before sending them. Order in the outbox is creation order,
 * so a referenced command is always ahead of the commands that refer to it.
 */
import type { Command, CommandResult } from '../protocol/index.js';
import { isLocalId, localIdFor } from './ids.js';
import { Value, type Observable } from './observable.js';
import type { Storage } from './storage.js';

export interface OutboxItem {
  /** The command id: the server's idempotency key. */
  id: string;
  command: Command;
  /** Milliseconds since the epoch when the app asked for it. */
  createdAt: number;
}

const ITEMS = 'outbox/items';
const IDS = 'outbox/ids';

export class Outbox {
  private readonly value = new Value<readonly OutboxItem[]>([]);
  /** The pending commands, oldest first. */
  readonly items: Observable<readonly OutboxItem[]> = this.value;
  /** local id → server id. A Map: ids arrive from storage and the network. */
  private ids = new Map<string, string>();
  private writes: Promise<void> = Promise.resolve();

  constructor(private readonly storage: Storage) {}

  async load(): Promise<void> {
    this.value.set((await this.storage.get<OutboxItem[]>(ITEMS)) ?? []);
    this.ids = new Map(Object.entries((await this.storage.get<Record<string, string>>(IDS)) ?? {}));
  }

  /** Appends a command; resolves once it is durable. */
  add(item: OutboxItem): Promise<void> {
    this.value.set([...this.value.get(), item]);
    return this.persist();
  }

  /** Removes an acked or refused command, remembering the ids it created. */
  settle(id: string, result?: CommandResult): Promise<void> {
    const item = this.value.get().find((i) => i.id === id);
    if (item && result) {
      const local = localIdFor(id);
      if (item.command.type === 'CreateConversation') this.ids.set(local, result.conversationId);
      if (item.command.type === 'PostMessage' && result.messageId) this.ids.set(local, result.messageId);
    }
    this.value.set(this.value.get().filter((i) => i.id !== id));
    return this.persist();
  }

  /** The server id for a local id, the id itself when it is not local, or undefined while unknown. */
  resolve(id: string): string | undefined {
    return isLocalId(id) ? this.ids.get(id) : id;
  }

  /** The command with local ids replaced by server ids; undefined if one is still unknown. */
  resolved(command: Command): Command | undefined {
    const out = { ...command } as Record<string, unknown>;
    for (const field of ['conversationId', 'messageId', 'threadRootId']) {
      const v = out[field];
      if (typeof v !== 'string') continue;
      const r = this.resolve(v);
      if (r === undefined) return undefined;
      out[field] = r;
    }
    return out as Command;
  }

  /** Commands that refer to `localId`: they must fail with the command that would create it. */
  dependentsOf(localId: string): OutboxItem[] {
    return this.value.get().filter((i) => Object.values(i.command).includes(localId));
  }

  /** Resolves when every change so far is in storage. */
  flushed(): Promise<void> {
    return this.writes;
  }

  private persist(): Promise<void> {
    const items = this.value.get();
    // Stored as a plain object, as before; Object.fromEntries defines own properties only.
    const ids = Object.fromEntries(this.ids);
    this.writes = this.writes.catch(() => undefined).then(async () => {
      await this.storage.put(IDS, ids);
      await this.storage.put(ITEMS, items);
    });
    return this.writes;
  }
}
