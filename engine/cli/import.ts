/**
 * `parley import`: loads a log file (see log-file.ts) into an empty event store through
 * the EventStore port's append, so it fills a cluster's JetStream stream as it fills a
 * data directory. Streams, seqs, event ids, data, metadata and idempotency records are
 * kept, so history, seqs and retried command ids behave exactly as they did where the
 * file came from.
 *
 * Positions are the target store's to give. The embedded store numbers events 1, 2, 3, …
 * in append order, so a file it exported comes back with every position as it was; a
 * JetStream stream numbers them by message (envelope.ts), so there the order is kept and
 * the numbers are its own. The summary says which.
 *
 * The partition count of the file's log and of the target need not agree: every event is
 * appended to its own stream, which the target places in its partition (partitions.ts),
 * with the seqs of the file, so each stream arrives whole, in order and dense wherever it
 * lands. The file's order within each of its partitions is kept, which is each stream's
 * order; an order across the file's partitions it never had.
 *
 * The port has no transaction around a whole import, so the file is checked from the
 * first line to the last before anything is appended: a bad line imports nothing. A
 * store that fails midway (a full disk, a lost quorum) leaves part of the log, and the
 * error says so; a store file this command created is removed then.
 *
 * Content that the file's own MessageErased / MessagesExpired ended is written redacted
 * (import-erasures.ts): a file from a store that keeps originals (JetStream) holds it.
 */
import { existsSync, rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { headCursorOf, nodeStream, partitionsOf, type AppendResult, type EventStore, type ExpectedVersion, type IdempotencyRecord, type NewEvent } from '../store/index.js';
import { dataDirFiles } from './data-dir.js';
import { ImportErasures } from './import-erasures.js';
import { checkLogFile, logFileInput, logLines } from './log-file-input.js';
import { openLog } from './open-log.js';
import { elapsed } from './progress.js';

const HELP = `usage: parley import [--in FILE|-] [--data-dir DIR | --nats URLS]

Loads a file written by parley export into the event store of DATA_DIR — or, with
--nats URLS (or NATS_URL, and PARLEY_STREAM), into the cluster's JetStream stream — which
must be empty (no events, no idempotency records). Streams, seqs, events and idempotency
records are kept, whatever the partition counts (PARLEY_PARTITIONS) of the exported log
and of the target: each stream goes to its partition of the target. Positions are kept
too on the embedded store, while JetStream numbers events its own way (in the same order). Content of messages the file erases or expires is written
redacted, as the node would have stored it. Every line is checked first; a bad line is
reported with its number and nothing is imported. Read models in DATA_DIR are removed, so the node rebuilds
them on start. --in - (the default) reads stdin. Run it while the nodes are stopped.
`;

/**
 * Where idempotency records go: the file does not say which append a key came with, so
 * each is appended on its own, with no events, to one of a few streams of their own
 * (never a conversation's, whose reads would skip over them). Several, because JetStream
 * runs one stream's appends one after another and keys need no order.
 */
const IMPORTED_KEY_STREAMS = Array.from({ length: 16 }, (_, i) => nodeStream(`parley-import-${i}`));

/**
 * Consecutive events of one stream go in one append, up to these bounds: fewer round
 * trips, and one JetStream message stays well under the server's 1 MiB default payload.
 */
const GROUP_EVENTS = 100;
const GROUP_BYTES = 256 * 1024;

export async function importLog(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      in: { type: 'string', short: 'i', default: '-' },
      'data-dir': { type: 'string' },
      nats: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void process.stdout.write(HELP);
  const files = dataDirFiles(values['data-dir']);
  const input = await logFileInput(values.in!);
  try {
    const started = performance.now();
    const erasures = new ImportErasures();
    const expected = await checkLogFile(input.file, (e) => erasures.noteErasure(e));
    const storeExisted = existsSync(files.events);
    const { store, where } = await openLog(files, values.nats, { create: true });
    const embedded = store.kind === 'sqlite';
    let loaded: Loaded | undefined;
    try {
      await assertEmpty(store, where);
      loaded = await load(store, input.file, erasures);
    } catch (err) {
      if (!(err instanceof ImportStopped)) throw err;
      const removed = embedded && !storeExisted;
      throw new Error(
        `${err.message}; the import stopped after ${err.loaded.events} of ${expected.events} events and ${err.loaded.keys} of ${expected.idempotency} idempotency records: ` +
          (removed ? `nothing was kept (${where} was removed)` : `${where} holds that part of the log (empty it before importing again)`),
        { cause: err.cause },
      );
    } finally {
      await store.close();
      if (!loaded && embedded && !storeExisted) removeSqlite(files.events);
    }
    const removedReadModels = embedded && removeSqlite(files.readModels);
    const positions = loaded.positionsKept ? 'positions as in the file' : `positions given by the ${store.kind} store, in the file's order`;
    const partitions = expected.partitions === loaded.partitions ? '' : `, from a log of ${expected.partitions} partition${expected.partitions === 1 ? '' : 's'} into one of ${loaded.partitions}`;
    process.stdout.write(
      `imported ${loaded.events} events and ${loaded.keys} idempotency records from ${input.name} into ${where} in ${elapsed(started)} (${positions}${partitions})` +
        `${removedReadModels ? '; removed the old read models, the node rebuilds them on start' : ''}` +
        `${embedded ? '' : '; start the nodes with empty data directories (or run parley rebuild on each) so their read models are built from it'}\n`,
    );
  } finally {
    input.dispose();
  }
}

async function assertEmpty(store: EventStore, where: string): Promise<void> {
  const cursor = await headCursorOf(store);
  const empty = cursor.entries.every((p) => p === 0);
  let hasKeys = false;
  if (empty) {
    for await (const _ of store.idempotencyRecords()) {
      hasKeys = true;
      break;
    }
  }
  if (!empty || hasKeys) {
    throw new Error(`the event store at ${where} is not empty (head position ${cursor.encode()}${hasKeys ? ', idempotency records' : ''}); import only into an empty store`);
  }
}

interface Loaded {
  events: number;
  keys: number;
  positionsKept: boolean;
  /** The target's partition count. */
  partitions: number;
}

/** The store failed midway; `loaded` is what it took. */
class ImportStopped extends Error {
  constructor(
    readonly loaded: Loaded,
    cause: unknown,
  ) {
    super((cause as Error)?.message ?? String(cause), { cause });
  }
}

async function load(store: EventStore, file: string, erasures: ImportErasures): Promise<Loaded> {
  const embedded = store.kind === 'sqlite';
  let appends = new OrderedAppends(embedded ? 256 : 1);
  const loaded: Loaded = { events: 0, keys: 0, positionsKept: true, partitions: partitionsOf(store) };
  let keysSent = 0;
  let group: { stream: string; events: NewEvent[]; positions: number[]; firstSeq: number; bytes: number } | undefined;
  const flush = () => {
    if (!group) return;
    const { stream, events, positions, firstSeq } = group;
    group = undefined;
    appends.add(store, stream, events, firstSeq - 1, undefined, (r) => {
      if (r.events.some((e, i) => e.position !== positions[i])) loaded.positionsKept = false;
      loaded.events += r.events.length;
    });
  };
  try {
    for await (const line of logLines(file, 'import')) {
      if (line.kind === 'event') {
        const { data } = erasures.redactImported(line);
        const bytes = Buffer.byteLength(JSON.stringify(data)) + Buffer.byteLength(JSON.stringify(line.metadata));
        if (group && (group.stream !== line.stream || group.events.length >= GROUP_EVENTS || group.bytes + bytes > GROUP_BYTES)) flush();
        group ??= { stream: line.stream, events: [], positions: [], firstSeq: line.seq, bytes: 0 };
        group.events.push({ id: line.id, type: line.type, data, metadata: line.metadata });
        group.positions.push(line.position);
        group.bytes += bytes;
      } else if (line.kind === 'idempotency') {
        if (keysSent === 0) {
          // The events are all in; keys need no order, so more of them may be in flight.
          flush();
          await appends.drain();
          appends = new OrderedAppends(embedded ? 256 : 64);
        }
        const record: IdempotencyRecord = { key: line.key, fingerprint: line.fingerprint, result: line.result };
        const stream = IMPORTED_KEY_STREAMS[keysSent++ % IMPORTED_KEY_STREAMS.length]!;
        appends.add(store, stream, [], 'any', record, () => void (loaded.keys += 1));
      }
      await appends.room();
    }
    flush();
    await appends.drain();
  } catch (err) {
    await appends.settle();
    throw new ImportStopped(loaded, err);
  }
  return loaded;
}

/**
 * Appends with at most `window` in flight. Events must land in the file's order: the
 * embedded store commits appends in the order they are made (one queue, one writer
 * thread), so there many may be in flight and its group commit batches them; JetStream
 * runs appends to different streams in parallel, so there one at a time keeps the order
 * (positions follow it). Keys have no order to keep.
 */
class OrderedAppends {
  private readonly inFlight: Array<Promise<void>> = [];
  private failure: unknown;

  constructor(private readonly window: number) {}

  add(store: EventStore, stream: string, events: NewEvent[], expectedVersion: ExpectedVersion, idempotency: IdempotencyRecord | undefined, done: (r: AppendResult) => void): void {
    const append = store.append(stream, events, { expectedVersion, ...(idempotency && { idempotency }) });
    this.inFlight.push(
      append.then(done).catch((err: unknown) => {
        this.failure ??= err;
      }),
    );
  }

  /** Waits while the window is full; throws the first failure. */
  async room(): Promise<void> {
    while (this.inFlight.length >= this.window) await this.inFlight.shift();
    if (this.failure !== undefined) throw this.failure;
  }

  async drain(): Promise<void> {
    await this.settle();
    if (this.failure !== undefined) throw this.failure;
  }

  /** Waits for every append made to settle (without throwing). */
  async settle(): Promise<void> {
    await Promise.all(this.inFlight.splice(0));
  }
}

/** Removes a SQLite file and its WAL; true if there was one. */
function removeSqlite(file: string): boolean {
  const existed = existsSync(file);
  for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
  return existed;
}
