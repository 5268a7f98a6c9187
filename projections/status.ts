/** How a projection is doing, as the runner, the read-model thread and external lanes report it. */
/** Why and where a projection stopped. */
export interface ProjectionFailure {
  /** The position of the event it could not apply (the next one after the checkpoint when reading the log failed). */
  position: number;
  eventType: string | null;
  stream: string | null;
  error: string;
  /** The error's code when it has one (SQLITE_FULL, SQLITE_BUSY, SQLITE_IOERR, …). */
  code: string | null;
  /** Milliseconds since the epoch of the first failure in a row. */
  since: number;
  attempts: number;
  /** Milliseconds since the epoch of the next retry; null while one runs. */
  nextRetryAt: number | null;
}

export interface ProjectionStatus {
  state: 'running' | 'failed' | 'rebuilding';
  failure: ProjectionFailure | null;
  /** Positions an operator told it to pass over. */
  skipped: number[];
}
