/**
 * The writer thread's life (sqlite-writer.js): started, ready once it opened the file,
 * lost when it dies, started again after a backoff that grows while it keeps dying.
 *
 * Batches go on a port of their own; answers that queued up while this thread was busy
 * are taken together (receiveMessageOnPort), so the store settles them with one feed
 * update (read models and fan-out pay per update, not per event). What a lost writer was
 * doing, and whether to start another, is the store's call (onLost, restartLater).
 */
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { backoffDelay } from './backoff.js';
import type { BatchMessage, BatchResult, TransactionResults } from './sqlite-writer-protocol.js';

/** Pauses before restarting a writer thread that died, growing while it keeps dying. */
const RESTART = { initialMs: 250, maxMs: 10_000 };

export interface WriterThreadEvents {
  /** The writer opened the file; `restarted` when an earlier writer had opened it too. */
  onReady(restarted: boolean): void;
  /** The answers for the batches of one or more transactions, in the order they were sent. */
  onAnswers(transactions: BatchResult[][]): void;
  /** One transaction's time in the writer, its fsync included (seconds). */
  onTransaction?(seconds: number): void;
  /** The writer died; `opened` when some writer had opened the file (else a start-up failure). */
  onLost(err: Error, opened: boolean): void;
}

/** The current writer thread, its batch port, and its restarts. */
export class WriterThread {
  /** Undefined while a writer that died waits to be started again. */
  private worker: Worker | undefined;
  /** The current writer's batch port. */
  private batches: MessagePort | undefined;
  /** The current writer has opened the file; batches go to it only then. */
  private opened = false;
  /** Some writer has opened the file: one that dies now is restarted, not a start-up failure. */
  private everOpened = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private restarts = 0;

  constructor(
    private readonly file: string,
    /** The writer cuts a WAL that starts over back to this size (journal_size_limit). */
    private readonly journalSizeLimit: number,
    private readonly events: WriterThreadEvents,
  ) {}

  /** A writer is up (maybe still opening the file); false while one that died waits to restart. */
  get running(): boolean {
    return this.worker !== undefined;
  }

  /** The current writer takes batches. */
  get ready(): boolean {
    return this.opened && this.batches !== undefined;
  }

  start(): void {
    const { port1, port2 } = new MessageChannel();
    const writer = new Worker(new URL('./sqlite-writer.js', import.meta.url), {
      workerData: { file: this.file, journalSizeLimit: this.journalSizeLimit, batches: port2 },
      transferList: [port2],
    });
    this.worker = writer;
    this.batches = port1;
    port1.on('message', (first: TransactionResults) => {
      if (port1 !== this.batches) return; // a lost writer's last words: its batches were already failed
      const transactions = [first.results];
      this.events.onTransaction?.(first.ms / 1000);
      for (let next = receiveMessageOnPort(port1); next; next = receiveMessageOnPort(port1)) {
        const message = next.message as TransactionResults;
        transactions.push(message.results);
        this.events.onTransaction?.(message.ms / 1000);
      }
      this.events.onAnswers(transactions);
    });
    writer.on('message', (reply: { ready: true }) => {
      if (writer === this.worker && reply.ready) this.fileOpened(writer);
    });
    writer.on('error', (err) => this.lost(writer, err));
    writer.on('exit', (code) => this.lost(writer, new Error(`the SQLite writer thread exited (${code})`)));
  }

  /** Sends one encoded batch (see encodeBatch); only while `ready`. */
  post(message: BatchMessage): void {
    this.batches!.postMessage(message);
  }

  /** A batch committed: the writer works, so the next loss restarts it quickly again. */
  committed(): void {
    this.restarts = 0;
  }

  /** Starts a new writer after a backoff, if `wanted` still says so then. */
  restartLater(wanted: () => boolean): void {
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (wanted()) this.start();
    }, backoffDelay(this.restarts++, RESTART));
  }

  async close(): Promise<void> {
    clearTimeout(this.restartTimer);
    await this.worker?.terminate();
    this.batches?.close();
  }

  private fileOpened(writer: Worker): void {
    if (writer !== this.worker) return;
    const restarted = this.everOpened;
    this.everOpened = true;
    this.opened = true;
    this.events.onReady(restarted);
  }

  private lost(writer: Worker, err: Error): void {
    if (writer !== this.worker) return;
    this.worker = undefined;
    this.opened = false;
    this.batches?.close();
    this.batches = undefined;
    void writer.terminate().catch(() => undefined);
    this.events.onLost(err, this.everOpened);
  }
}
