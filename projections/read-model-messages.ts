/**
 * The messages between the node's main thread and its read-model thread
 * (read-model-thread.ts on the main side, read-model-worker.ts in the thread).
 *
 * Live batches travel as JSON text: one string is copied between threads instead of a
 * structured clone of every event object. Everything else is small and rare.
 *
 * The live stream is bounded: when the thread falls more than a bound of events behind
 * what was sent to it (it is blocked, or slower than the log grows), the main thread stops
 * sending (`behind`: the cursor of what it sent) and the thread pulls the log from there
 * (`pull`) until a page reaches the head, whose answer says `resumed`: from then on, live
 * batches come again. No event falls between: see ReadModelThread.servePull.
 *
 * Places in the log (`after`, `behind`) are log cursor tokens (engine/store/log-cursor.ts):
 * on an unpartitioned log the decimal position, on a log of N partitions one entry per
 * partition, so the thread runs the same at any N (`ThreadSettings.partitions`).
 */
import { ParleyError, type ErrorCode } from '../protocol/index.js';
import type { ProjectionSource } from './projection.js';
import type { Readiness } from './readiness.js';
import type { ProjectionFailure, ProjectionStatus } from './runner.js';

export interface ThreadSettings {
  /** The read-model SQLite file. */
  file: string;
  /** How many partitions the log has (1: unpartitioned); cursor tokens are read for it. */
  partitions: number;
  sources: ProjectionSource[];
  batchSize?: number;
  retry?: { initialMs?: number; maxMs?: number };
  /** Run a PASSIVE WAL checkpoint between batches once the WAL is this large. */
  checkpointBytes: number;
  /** How much lower than the node's the thread's scheduling priority is (Linux; 0 keeps it). */
  nice: number;
}

/** An error as it crosses the thread boundary. */
export interface WireError {
  message: string;
  code?: string;
  name?: string;
}

export type ToThread =
  | { live: string }
  | { page: number; events?: string; error?: WireError; resumed?: boolean }
  | { behind: string }
  | { skip: string; position: number; reason: string }
  | { rebuild: number; names: string[] }
  | { stop: true };

export interface ModelState {
  readiness: Readiness;
  status: ProjectionStatus;
}

export type FromThread =
  | { read: number; after: string; limit: number }
  | { pull: number; after: string; limit: number }
  /** `received`: live events taken off the channel so far (the main thread bounds what is in flight). */
  | { progress: ModelState[]; applied: Array<[name: string, position: number, events: number]>; received: number }
  | { failed: string; error: WireError; failure: ProjectionFailure | null }
  | { recovered: string }
  | { started: true }
  | { rebuilt: number; error?: WireError }
  | { stopped: true };

export function toWire(err: unknown): WireError {
  if (!(err instanceof Error)) return { message: String(err) };
  const code = (err as { code?: unknown }).code;
  return { message: err.message, name: err.name, ...(typeof code === 'string' && { code }) };
}

export function fromWire(e: WireError): Error {
  if (e.name === 'ParleyError' && e.code) return new ParleyError(e.code as ErrorCode, e.message);
  const err = new Error(e.message);
  if (e.code) Object.assign(err, { code: e.code });
  return err;
}
