/** Waiting with a deadline: sleeping, racing a promise, polling a condition. */

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Races `p` against a deadline; the loser is not cancelled. */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([p, deadline]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/**
 * Calls `fn` until it returns a truthy value (which is returned) or the deadline
 * passes (then throws, naming `what` and the last error/value).
 */
export async function pollUntil<T>(
  fn: () => T | Promise<T>,
  opts: { timeoutMs: number; intervalMs?: number; what: string },
): Promise<NonNullable<T>> {
  const end = Date.now() + opts.timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= end) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${opts.what} (last: ${detail})`);
    }
    await sleep(opts.intervalMs ?? 50);
  }
}
