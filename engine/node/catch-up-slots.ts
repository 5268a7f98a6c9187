/**
 * Catch-ups one socket may run at the same time.
 *
 * Each catch-up in flight holds a page read from the log and puts it on the socket before
 * waiting for it to drain, so a socket running hundreds at once would make the node hold
 * hundreds of pages. A few run; the others wait in line, first come first served. The
 * line is bounded because each subscription has at most one catch-up waiting and
 * subscriptions per socket are bounded.
 */
export class CatchUpSlots {
  private running = 0;
  private readonly line: Array<() => void> = [];

  constructor(private readonly size: number) {}

  /** Resolves with the function that frees the slot (call it exactly once). */
  async acquire(): Promise<() => void> {
    if (this.running >= this.size) await new Promise<void>((resolve) => this.line.push(resolve));
    else this.running += 1;
    let freed = false;
    return () => {
      if (freed) return;
      freed = true;
      const next = this.line.shift();
      // The slot passes straight to the next in line, so `running` stays as it is.
      if (next) next();
      else this.running -= 1;
    };
  }
}
