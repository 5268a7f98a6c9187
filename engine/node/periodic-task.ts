/**
 * A node's background round (the retention sweep, the attachment orphan collector): run
 * every `everyMs` after the previous round ended, never two at once, a failed round
 * logged and tried again next tick (a timer's throw would otherwise end the process), and
 * `stop()` waits for a round in progress. The timer is unref'd: it never keeps a process up.
 */
export class PeriodicTask {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopping = false;

  constructor(
    private readonly everyMs: number,
    private readonly round: () => Promise<unknown>,
    private readonly onError: (err: unknown) => void,
  ) {}

  start(): void {
    this.schedule();
  }

  /** True once stop() was called: a long round checks it between its steps. */
  get stopped(): boolean {
    return this.stopping;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(): void {
    if (this.stopping) return;
    this.timer = setTimeout(() => {
      this.running = this.round()
        .catch(this.onError)
        .finally(() => this.schedule());
    }, this.everyMs);
    this.timer.unref();
  }
}
