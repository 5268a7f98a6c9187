/**
 * The smallest observable that works in every runtime: a current value and listeners.
 * UI frameworks adapt it in one line (React's `useSyncExternalStore(o.subscribe, o.get)`).
 */
export interface Observable<T> {
  /** The current value. */
  get(): T;
  /** Calls `listener` on every change (not with the current value); returns an unsubscribe. */
  subscribe(listener: (value: T) => void): () => void;
}

/** A settable observable value. */
export class Value<T> implements Observable<T> {
  private readonly listeners = new Set<(value: T) => void>();

  constructor(private value: T) {}

  get(): T {
    return this.value;
  }

  set(value: T): void {
    this.value = value;
    for (const l of [...this.listeners]) callListener(l, value);
  }

  subscribe = (listener: (value: T) => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };
}

/** A stream of occurrences without a current value (failures, typing signals). */
export class Signal<T> {
  private readonly listeners = new Set<(value: T) => void>();

  emit(value: T): void {
    for (const l of [...this.listeners]) callListener(l, value);
  }

  subscribe = (listener: (value: T) => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };
}

/** Resolves when `observable` satisfies `test` (at once if it already does). */
/**
 * Calls an app's listener. One that throws must not stop the other listeners, nor throw
 * into the client's own frame handling (which would then drop a good connection): its
 * error is rethrown on its own, where the app's uncaught-error reporting sees it.
 */
export function callListener<T>(listener: (value: T) => void, value: T): void {
  try {
    listener(value);
  } catch (err) {
    queueMicrotask(() => {
      throw err;
    });
  }
}

export function when<T>(observable: Observable<T>, test: (value: T) => boolean): Promise<T> {
  const now = observable.get();
  if (test(now)) return Promise.resolve(now);
  return new Promise((resolve) => {
    const off = observable.subscribe((v) => {
      if (!test(v)) return;
      off();
      resolve(v);
    });
  });
}
