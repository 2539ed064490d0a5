/**
 * System calls that may wait, run on libuv's thread pool (koffi's
 * asynchronous calls) instead of the calling thread: those that resolve a
 * path and may therefore wait for a FUSE server, and a filesystem's calls to a
 * slow source.
 *
 * The thread that serves a FUSE mount must never make a synchronous call on a
 * path inside that mount: the kernel would send the server a request (a
 * LOOKUP while resolving the path) and wait for an answer from the very
 * thread that is waiting for the kernel. mount(2) on a mountpoint inside one
 * of the process's own mounts, and umount2(2) of such a mount, are exactly
 * that; here they wait on a pool thread while the serving thread stays free.
 *
 * koffi keeps the pool thread's errno for the completion callback, so the
 * errors are the same SysErrors the synchronous calls throw.
 */

import os from 'node:os';
import koffi from 'koffi';
import { SysError } from './errors.js';
import { statBuf, decodeStatInto, type Stat } from './structs.js';

const { EIO, EINVAL } = os.constants.errno;

const libc = koffi.load('libc.so.6');

type AsyncFn = {
  async(...args: unknown[]): void;
};

const c_mount = libc.func('int mount(const char *, const char *, const char *, unsigned long, const char *)') as unknown as AsyncFn;
const c_umount2 = libc.func('int umount2(const char *, int)') as unknown as AsyncFn;

function onPool(fn: AsyncFn, syscall: string, args: unknown[]): Promise<void> {
  return new Promise((resolve, reject) => {
    fn.async(...args, (err: Error | null, r: number) => {
      if (err) return reject(err);
      // koffi restores the pool thread's errno while this callback runs.
      if (r < 0) return reject(new SysError(koffi.errno(), syscall));
      resolve();
    });
  });
}

/** mount(2) on a pool thread. Rejects with a SysError. */
export function mountAsync(source: string, target: string, fstype: string, flags: number, data: string): Promise<void> {
  return onPool(c_mount, 'mount', [source, target, fstype, flags, data]);
}

/** umount2(2) on a pool thread. Rejects with a SysError (EBUSY, EINVAL: not a mountpoint, EPERM…). */
export function umount2Async(target: string, flags: number): Promise<void> {
  return onPool(c_umount2, 'umount2', [target, flags]);
}

const c_write = libc.func('long write(int, const void *, size_t)') as unknown as AsyncFn;

/**
 * write(2) on a pool thread: resolves to the count written or a negative
 * errno, never rejects for an errno. For writes that may sleep in the kernel
 * on something only the calling thread could release (a FUSE notification
 * that waits for a directory lock held by a request this thread must answer).
 * `buf` must stay untouched until the promise settles.
 */
export function writeOnPool(fd: number, buf: Buffer, len: number): Promise<number> {
  return callOnPool(c_write, [fd, buf, len]);
}

// ---------------------------------------------------------------------------
// Source calls that may wait: for a filesystem that serves from a slow source
// (a network filesystem, another FUSE mount, a disk that is spun down), so that
// one request's wait does not hold up every other. Each costs 20-30 µs more
// than the synchronous call (the hand-off to a pool thread and back), so they
// pay only where the call itself takes far longer.

const c_fstatat = libc.func('int fstatat(int, const char *, void *, int)') as unknown as AsyncFn;
const c_openat = libc.func('int openat(int, const char *, int, unsigned int)') as unknown as AsyncFn;
const c_getdents64 = libc.func('intptr_t getdents64(int, void *, size_t)') as unknown as AsyncFn;

/** Scratch for one call in flight: its name (NUL-terminated) and its struct stat. */
interface PoolCallSlot {
  name: Buffer;
  stat: Buffer;
}

const PATH_MAX = 4096;
// Slots are reused: as many exist as calls were ever in flight at once.
const freeSlots: PoolCallSlot[] = [];

function takeSlot(name: Buffer | string): PoolCallSlot | undefined {
  const length = typeof name === 'string' ? Buffer.byteLength(name) : name.length;
  if (length >= PATH_MAX) return undefined;
  const slot = freeSlots.pop() ?? { name: Buffer.allocUnsafeSlow(PATH_MAX), stat: Buffer.allocUnsafeSlow(statBuf.length) };
  if (typeof name === 'string') slot.name.write(name, 0);
  else name.copy(slot.name);
  slot.name[length] = 0;
  // A NUL inside the name would silently cut it short.
  if (slot.name.indexOf(0) !== length) {
    freeSlots.push(slot);
    return undefined;
  }
  return slot;
}

/** Runs `fn` on a pool thread; resolves its result, or -errno when it returned -1. */
function callOnPool(fn: AsyncFn, args: unknown[]): Promise<number> {
  return new Promise((resolve) => {
    fn.async(...args, (err: Error | null, r: number | bigint) => {
      if (err) return resolve(-EIO); // koffi could not make the call
      const n = Number(r);
      resolve(n < 0 ? -koffi.errno() : n);
    });
  });
}

/**
 * fstatat(2) on a pool thread into `out`: resolves 0, or -errno (`out` is then
 * untouched). `dirfd` must stay open until the promise settles.
 */
export async function fstatatOnPool(dirfd: number, name: Buffer | string, flags: number, out: Stat): Promise<number> {
  const slot = takeSlot(name);
  if (!slot) return -EINVAL;
  try {
    const r = await callOnPool(c_fstatat, [dirfd, slot.name, slot.stat, flags]);
    if (r === 0) {
      // The decoder reads the shared scratch struct; this runs on the main thread, between calls.
      slot.stat.copy(statBuf);
      decodeStatInto(out);
    }
    return r;
  } finally {
    freeSlots.push(slot);
  }
}

/** openat(2) on a pool thread: resolves the new descriptor or -errno. `dirfd` must stay open until it settles. */
export async function openatOnPool(dirfd: number, name: Buffer | string, flags: number, mode = 0): Promise<number> {
  const slot = takeSlot(name);
  if (!slot) return -EINVAL;
  try {
    return await callOnPool(c_openat, [dirfd, slot.name, flags, mode]);
  } finally {
    freeSlots.push(slot);
  }
}

/** getdents64(2) into `buf` on a pool thread: resolves the bytes filled (0 at the end) or -errno. `buf` and `fd` must stay untouched until it settles. */
export function getdents64OnPool(fd: number, buf: Buffer): Promise<number> {
  return callOnPool(c_getdents64, [fd, buf, buf.length]);
}
