/**
 * System calls that resolve a path and may therefore wait for a FUSE server,
 * run on libuv's thread pool (koffi's asynchronous calls) instead of the
 * calling thread.
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

import koffi from 'koffi';
import { SysError } from './errors.js';

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
  return new Promise((resolve) => {
    c_write.async(fd, buf, len, (err: Error | null, r: number | bigint) => {
      if (err) return resolve(-5); // EIO: koffi could not make the call
      const n = Number(r);
      resolve(n < 0 ? -koffi.errno() : n);
    });
  });
}
