/**
 * The error type of the native boundary: one class carrying the errno, its
 * symbolic name and the failing system call, so callers can map a failure
 * straight back to a FUSE error reply.
 */

import os from 'node:os';
import koffi from 'koffi';

// errno number -> name. Several names share a number (EAGAIN/EWOULDBLOCK,
// EDEADLK/EDEADLOCK, EOPNOTSUPP/ENOTSUP); keep the kernel's spelling.
const preferredNames = new Set(['EAGAIN', 'EDEADLK', 'EOPNOTSUPP']);
const names: string[] = [];
for (const [name, value] of Object.entries(os.constants.errno)) {
  if (names[value] === undefined || preferredNames.has(name)) names[value] = name;
}

/** The symbolic name of a positive errno (`2` -> `'ENOENT'`); `'E<n>'` if unknown. */
export function errnoName(errno: number): string {
  return names[errno] ?? `E${errno}`;
}

/** A failed system call. `errno` is positive; `code` is its name, e.g. `'ENOENT'`. */
export class SysError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;

  constructor(errno: number, syscall: string) {
    const code = errnoName(errno);
    super(`${code}: ${syscall}`);
    this.name = 'SysError';
    this.code = code;
    this.errno = errno;
    this.syscall = syscall;
  }
}

/**
 * Throws a SysError for `syscall`. Without `errno`, reads the errno left by the
 * last native call, so call it before anything else can touch errno.
 */
export function throwErrno(syscall: string, errno: number = koffi.errno()): never {
  throw new SysError(errno, syscall);
}
