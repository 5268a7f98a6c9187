/**
 * The tip of each store stream: its version and the JetStream sequence of its last
 * envelope — what the next append must name as `Nats-Expected-Last-Subject-Sequence`.
 * A bounded cache (oldest entry evicted first); an entry may lag the server when another
 * node appended, which the server then reports and the caller refreshes.
 */
import { BoundedMap } from '../bounded-map.js';

export interface Tip {
  version: number;
  jetstreamSeq: number;
  /** The first seq of the last envelope, when read from the server (duplicate checks). */
  firstSeq?: number;
}

export class StreamTips {
  private readonly tips: BoundedMap<string, Tip>;

  constructor(max: number) {
    this.tips = new BoundedMap(max);
  }

  get(stream: string): Tip | undefined {
    return this.tips.get(stream);
  }

  set(stream: string, tip: Tip): void {
    // Never move a tip backwards: a slow lookup must not undo a newer ack.
    const known = this.tips.get(stream);
    if (known && known.jetstreamSeq > tip.jetstreamSeq) return;
    this.tips.set(stream, tip);
  }

  forget(stream: string): void {
    this.tips.delete(stream);
  }
}
