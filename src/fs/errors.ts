import { constants as osConstants } from 'node:os';
import { MAX_ERRNO } from '../abi/constants.js';
import { errnoName } from '../sys/errors.js';

export { errnoName };

const ERRNO = osConstants.errno as Record<string, number>;

/**
 * An error that answers a request with a specific errno. Handlers may equally
 * throw Node's own errors (`err.code === 'ENOENT'`): both map to the errno.
 */
export class FuseError extends Error {
  /** Positive errno, e.g. 2 for ENOENT. */
  readonly errno: number;
  /** The errno's name, e.g. 'ENOENT', as Node's own errors carry it. */
  readonly code: string;

  constructor(errno: number | string, message?: string) {
    const n = typeof errno === 'string' ? ERRNO[errno] : errno;
    if (!Number.isInteger(n) || n <= 0 || n > MAX_ERRNO) throw new RangeError(`not an errno: ${errno}`);
    const code = errnoName(n);
    super(message ?? code);
    this.name = 'FuseError';
    this.errno = n;
    this.code = code;
  }
}

/** The errno number of a name (`'ENOENT'` → 2), or undefined for a name this system does not have. */
export function errnoNumber(name: string): number | undefined {
  return ERRNO[name];
}

/**
 * The errno a thrown value stands for, or undefined when it carries none (then
 * the request fails with EIO and the cause is logged). Aborted requests map to EINTR.
 */
export function errnoFromError(err: unknown): number | undefined {
  if (err instanceof FuseError || err instanceof Errno) return err.errno;
  if (typeof err === 'object' && err !== null) {
    const e = err as { code?: unknown; errno?: unknown; name?: unknown };
    if (typeof e.code === 'string' && ERRNO[e.code] !== undefined) return ERRNO[e.code];
    if (e.name === 'AbortError') return ERRNO.EINTR;
  }
  return undefined;
}

/**
 * A failure a handler returns instead of throwing: `return Errno.of(E.ENOENT)`.
 * Meant for routine answers (a name that does not exist, an attribute that is
 * not set): no Error is built (several microseconds with its stack), and V8
 * keeps optimizing a function that returns, while one that mostly leaves by a
 * throw stays in the interpreter. It may also be thrown.
 */
export class Errno {
  private static readonly cache: Errno[] = [];

  private constructor(
    /** Positive errno, e.g. 2 for ENOENT. */
    readonly errno: number,
    /** The errno's name, e.g. 'ENOENT'. */
    readonly code: string,
  ) {}

  /** The shared instance for an errno, by number (1…MAX_ERRNO) or name ('ENOENT'). */
  static of(errno: number | string): Errno {
    const n = typeof errno === 'string' ? ERRNO[errno] ?? -1 : errno;
    const cached = Errno.cache[n];
    if (cached) return cached;
    if (!Number.isInteger(n) || n <= 0 || n > MAX_ERRNO) throw new RangeError(`not an errno: ${errno}`);
    return (Errno.cache[n] = Object.freeze(new Errno(n, errnoName(n))));
  }
}
