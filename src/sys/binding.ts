/**
 * How the system call wrappers reach glibc: the koffi handle, name arguments,
 * and errno handling. libc.ts builds the wrappers from these pieces, and so
 * does test/helpers/libc.ts for the calls only tests make. Not part of the sys
 * layer's exports (index.ts).
 *
 * Names and paths are `string | Buffer`. koffi UTF-8-encodes strings itself;
 * a Buffer holds the exact name bytes (Linux names need not be UTF-8) and is
 * copied into a reusable NUL-terminated scratch buffer, since koffi passes a
 * Buffer given for a `const char *` as a raw pointer. A name containing NUL
 * would be silently truncated by the kernel, so it fails with EINVAL instead.
 *
 * All calls are synchronous and JS is single-threaded per isolate, so module
 * level scratch memory is never shared between two calls in flight (worker
 * threads load their own copy of this module).
 */

import './arch.js'; // refuses an unsupported machine before glibc is loaded
import os from 'node:os';
import koffi from 'koffi';
import { SysError, throwErrno } from './errors.js';

/** A path or name argument: a string (UTF-8) or the exact bytes. */
export type Name = string | Buffer;

/** A `const char *` argument as koffi takes it. */
export type CStr = string | Buffer | null;

/** A pointer argument: a Buffer's memory, or NULL. */
export type Ptr = Buffer | null;

const { EINTR, EINVAL } = os.constants.errno;

// Variadic glibc entry points (open, openat, ioctl, syscall) are declared with
// fixed parameters: on the x86-64 and aarch64 Linux ABIs integer and pointer
// arguments travel in the same registers either way, and the fixed form is
// koffi's fast path.
const libc = koffi.load('libc.so.6');

/** Binds a glibc function from its C prototype; `F` is the JS signature the caller vouches for. */
export function bind<F>(prototype: string): F {
  return libc.func(prototype) as unknown as F;
}

// ---------------------------------------------------------------------------
// Names

let nameScratchA = Buffer.allocUnsafeSlow(1024);
let nameScratchB = Buffer.allocUnsafeSlow(1024);

// Copies a Buffer name into a scratch slot with a NUL; undefined if it has a NUL.
// set() + indexOf() costs ~30 ns flat, where a JS byte loop grows ~2 ns/byte.
function rawName(name: Buffer, slotB: boolean): Buffer | undefined {
  if (name.indexOf(0) !== -1) return undefined;
  const n = name.length;
  let dst = slotB ? nameScratchB : nameScratchA;
  if (dst.length <= n) {
    dst = Buffer.allocUnsafeSlow(Math.max(n + 1, dst.length * 2));
    if (slotB) nameScratchB = dst;
    else nameScratchA = dst;
  }
  dst.set(name);
  dst[n] = 0;
  return dst;
}

/** A name as a C string argument (first name slot), or undefined if it holds a NUL. */
export function cname(name: Name): string | Buffer | undefined {
  if (typeof name === 'string') return name.indexOf('\0') === -1 ? name : undefined;
  return rawName(name, false);
}

/** Same as cname, in the second slot, for calls taking two names. */
export function cname2(name: Name): string | Buffer | undefined {
  if (typeof name === 'string') return name.indexOf('\0') === -1 ? name : undefined;
  return rawName(name, true);
}

/** Throws EINVAL for a name that cannot be passed (it holds a NUL). */
export function badName(syscall: string): never {
  throw new SysError(EINVAL, syscall);
}

// ---------------------------------------------------------------------------
// Errors. Each reads errno first thing after the failed call.

/** After a failed call: returns if it was EINTR (retry), else throws. */
function retryOrThrow(syscall: string): void {
  const e = koffi.errno();
  if (e !== EINTR) throwErrno(syscall, e);
}

/** A value buffer for the *xattr calls: NULL (with size 0) for a null or empty one, which asks for the size needed. */
export function sizeQueryOrNull(buf: Buffer | null): Buffer | null {
  return buf !== null && buf.length > 0 ? buf : null;
}

/** Whether buf[off, off+len) is a valid slice, checked before the kernel writes into it. */
export function inRange(buf: Buffer, off: number, len: number): boolean {
  return off >= 0 && len >= 0 && off + len <= buf.length;
}

/**
 * Makes a glibc call that returns -1 and sets errno on failure: again while it
 * fails with EINTR, then its result, or a SysError naming `syscall`.
 */
export function callOrThrow(syscall: string, call: () => number): number {
  for (;;) {
    const r = call();
    if (r >= 0) return r;
    retryOrThrow(syscall);
  }
}

/** As callOrThrow, but a failure comes back as -errno: for paths where failure is routine. */
export function callOrErrno(call: () => number): number {
  for (;;) {
    const r = call();
    if (r >= 0) return r;
    const e = koffi.errno();
    if (e !== EINTR) return -e;
  }
}
