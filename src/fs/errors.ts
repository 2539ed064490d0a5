import { constants as osConstants } from 'node:os';

const ERRNO = osConstants.errno as Record<string, number>;

/**
 * An error that answers a request with a specific errno. Handlers may equally
 * throw Node's own errors (`err.code === 'ENOENT'`): both map to the errno.
 */
export class FuseError extends Error {
  /** Positive errno, e.g. 2 for ENOENT. */
  readonly errno: number;
  readonly code: string;

  constructor(errno: number | string, message?: string) {
    const n = typeof errno === 'string' ? ERRNO[errno] : errno;
    if (!Number.isInteger(n) || n <= 0 || n > 511) throw new RangeError(`not an errno: ${errno}`);
    const code = errnoName(n);
    super(message ?? code);
    this.name = 'FuseError';
    this.errno = n;
    this.code = code;
  }
}

const NAMES: string[] = [];
for (const [name, n] of Object.entries(ERRNO)) {
  // Several names share a number (EWOULDBLOCK = EAGAIN, EDEADLOCK = EDEADLK): keep the first, canonical one.
  if (NAMES[n] === undefined) NAMES[n] = name;
}

export function errnoName(n: number): string {
  return NAMES[n] ?? `E${n}`;
}

export function errnoOf(code: string): number | undefined {
  return ERRNO[code];
}

/**
 * The errno a thrown value stands for, or undefined when it carries none (then
 * the request fails with EIO and the cause is logged). Aborted requests map to EINTR.
 */
export function errnoFromError(err: unknown): number | undefined {
  if (err instanceof FuseError) return err.errno;
  if (typeof err === 'object' && err !== null) {
    const e = err as { code?: unknown; errno?: unknown; name?: unknown };
    if (typeof e.code === 'string' && ERRNO[e.code] !== undefined) return ERRNO[e.code];
    if (e.name === 'AbortError') return ERRNO.EINTR;
  }
  return undefined;
}

const QUICK: { readonly errno: number; readonly code: string }[] = [];

/**
 * A throwable errno without a stack trace, for failures that are routine (a
 * lookup of a name that does not exist): building an Error costs several
 * microseconds, more than the request itself.
 */
export function quickErrno(errno: number): { readonly errno: number; readonly code: string } {
  return (QUICK[errno] ??= Object.freeze({ errno, code: errnoName(errno) }));
}
