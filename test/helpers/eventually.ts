/**
 * Waits for an eventually-true assertion: retries `check` until it stops throwing or the
 * time runs out, then rethrows its last error. Use instead of sleeps. The default bound
 * is generous: it only decides how long a failing test takes, and on a loaded 2-core
 * machine (CI runs test files side by side) a cross-node delivery took over 5 s.
 */
export const EVENTUALLY_MS = 15_000;

export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = EVENTUALLY_MS, intervalMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
}
