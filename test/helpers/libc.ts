/**
 * System calls that only tests make: the test suite's own wrappers, built from
 * the sys layer's binding pieces (src/sys/binding.ts) and its per-architecture
 * tables (src/sys/arch.ts), with the sys layer's conventions (SysError on
 * failure, EINTR retried, try* variants return -errno).
 */

import os from 'node:os';
import koffi from 'koffi';
import { arch } from '../../src/sys/arch.js';
import type { Field } from '../../src/sys/arch.js';
import { bind, cname, badName, callOrThrow, inRange } from '../../src/sys/binding.js';
import type { CStr, Name, Ptr } from '../../src/sys/binding.js';
import { statfsBuf, decodeStatfs, readUint } from '../../src/sys/structs.js';
import type { Stat, StatFs } from '../../src/sys/structs.js';
import { SysError, throwErrno } from '../../src/sys/errors.js';
import {
  AT_FDCWD, AT_SYMLINK_NOFOLLOW, FUSE_DEV_IOC_CLONE, FUSE_DEV_IOC_SYNC_INIT,
} from '../../src/sys/constants.js';
import { fstatat, lgetxattr, llistxattr, lremovexattr, lsetxattr, openat, tryFgetxattr, tryGetxattr, tryRead, tryWrite } from '../../src/sys/libc.js';
export { lgetxattr, llistxattr, lremovexattr, lsetxattr };

const { EFAULT, EINTR } = os.constants.errno;

const c_pread = bind<(fd: number, buf: Ptr, len: number, pos: number) => number>(
  'intptr_t pread(int, void *, size_t, int64_t)',
);
const c_pwrite = bind<(fd: number, buf: Ptr, len: number, pos: number) => number>(
  'intptr_t pwrite(int, const void *, size_t, int64_t)',
);
const c_ioctl = bind<(fd: number, request: number, arg: Ptr) => number>('int ioctl(int, unsigned long, void *)');
const c_poll = bind<(fds: Ptr, nfds: number, timeout: number) => number>('int poll(void *, unsigned long, int)');
const c_statfs = bind<(path: CStr, buf: Ptr) => number>('int statfs(const char *, void *)');
const c_fsync = bind<(fd: number) => number>('int fsync(int)');
const c_fdatasync = bind<(fd: number) => number>('int fdatasync(int)');
const c_syncfs = bind<(fd: number) => number>('int syncfs(int)');
const c_faccessat = bind<(dirfd: number, name: CStr, mode: number, flags: number) => number>(
  'int faccessat(int, const char *, int, int)',
);

const c_setfsuid = bind<(uid: number) => number>('int setfsuid(int)');
const c_setfsgid = bind<(gid: number) => number>('int setfsgid(int)');
const c_getuid = bind<() => number>('uint32_t getuid()');
const c_getgid = bind<() => number>('uint32_t getgid()');
const c_getpid = bind<() => number>('int getpid()');
const c_sys0 = bind<(nr: number) => number>('long syscall(long)');

/** A try* result as a value, or a SysError naming `syscall`. */
function orThrow(syscall: string, result: number): number {
  return result >= 0 ? result : throwErrno(syscall, -result);
}

// ---------------------------------------------------------------------------
// Files

/** openat(2) returning the fd, or -errno instead of throwing. */
export function tryOpenat(dirfd: number, name: Name, flags: number, mode = 0): number {
  try {
    return openat(dirfd, name, flags, mode);
  } catch (err) {
    if (err instanceof SysError) return -err.errno;
    throw err;
  }
}

/** read(2) into buf[off, off+len). Returns bytes read (0 at EOF). */
export function read(fd: number, buf: Buffer, off: number, len: number): number {
  return orThrow('read', tryRead(fd, buf, off, len));
}

/** write(2) from buf[off, off+len). Returns bytes written. */
export function write(fd: number, buf: Buffer, off: number, len: number): number {
  return orThrow('write', tryWrite(fd, buf, off, len));
}

/** pread(2) into buf[off, off+len) from file offset `position`. */
export function pread(fd: number, buf: Buffer, off: number, len: number, position: number): number {
  if (!inRange(buf, off, len)) throwErrno('pread', EFAULT);
  const p = off === 0 ? buf : buf.subarray(off);
  return callOrThrow('pread', () => c_pread(fd, p, len, position));
}

/** pwrite(2) from buf[off, off+len) at file offset `position`. */
export function pwrite(fd: number, buf: Buffer, off: number, len: number, position: number): number {
  if (!inRange(buf, off, len)) throwErrno('pwrite', EFAULT);
  const p = off === 0 ? buf : buf.subarray(off);
  return callOrThrow('pwrite', () => c_pwrite(fd, p, len, position));
}

/** fsync(2). */
export function fsync(fd: number): void {
  callOrThrow('fsync', () => c_fsync(fd));
}

/** fdatasync(2). */
export function fdatasync(fd: number): void {
  callOrThrow('fdatasync', () => c_fdatasync(fd));
}

/** syncfs(2). */
export function syncfs(fd: number): void {
  callOrThrow('syncfs', () => c_syncfs(fd));
}

/** faccessat(2) with F_OK or R_OK|W_OK|X_OK; throws (e.g. EACCES) when denied. */
export function faccessat(dirfd: number, name: Name, mode: number, flags: number): void {
  const p = cname(name) ?? badName('faccessat');
  callOrThrow('faccessat', () => c_faccessat(dirfd, p, mode, flags));
}

/** lstat(2), as fstatat(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW). */
export function lstat(path: Name): Stat {
  return fstatat(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW);
}

/** statfs(2). */
export function statfs(path: Name): StatFs {
  const p = cname(path) ?? badName('statfs');
  callOrThrow('statfs', () => c_statfs(p, statfsBuf));
  return decodeStatfs();
}

// ---------------------------------------------------------------------------
// ioctl and poll

/** ioctl(2) with a pointer argument. Returns the ioctl's non-negative result. */
export function ioctlBuffer(fd: number, request: number, arg: Buffer | null): number {
  return callOrThrow('ioctl', () => c_ioctl(fd, request, arg));
}

/** FUSE_DEV_IOC_CLONE: attach a freshly opened /dev/fuse fd to the session of `mountedFd`. */
export function fuseDevClone(newFd: number, mountedFd: number): void {
  const arg = Buffer.alloc(4);
  arg.writeUInt32LE(mountedFd);
  ioctlBuffer(newFd, FUSE_DEV_IOC_CLONE, arg);
}

/** FUSE_DEV_IOC_SYNC_INIT: ask the kernel to send FUSE_INIT synchronously at mount (6.18+). */
export function fuseSyncInit(devFd: number): void {
  ioctlBuffer(devFd, FUSE_DEV_IOC_SYNC_INIT, null);
}

const pollfd = arch.pollfd;

/** Stores a non-negative integer field of a struct in a Buffer, at the table's width. */
function writeField(buf: Buffer, f: Field, value: number): void {
  if (f.size === 8) buf.writeBigUInt64LE(BigInt(value), f.offset);
  else buf.writeUIntLE(value, f.offset, f.size);
}

/**
 * poll(2) on one fd. Returns revents, or 0 on timeout or EINTR (not retried:
 * the caller's timeout would restart and a signal should get a chance to be seen).
 */
export function pollOne(fd: number, events: number, timeoutMs: number): number {
  const buf = Buffer.alloc(pollfd.bytes);
  writeField(buf, pollfd.fields.fd, fd);
  writeField(buf, pollfd.fields.events, events);
  const r = c_poll(buf, 1, timeoutMs);
  if (r > 0) return readUint(buf, 0, pollfd.fields.revents);
  if (r === 0) return 0;
  const e = koffi.errno();
  return e === EINTR ? 0 : throwErrno('poll', e);
}

// ---------------------------------------------------------------------------
// Extended attributes. A null or empty buffer asks for the size needed.

/** getxattr(2). Returns the value's size (the size needed if buf is null/empty). */
export function getxattr(path: Name, name: Name, buf: Buffer | null): number {
  return orThrow('getxattr', tryGetxattr(path, name, buf));
}

/** fgetxattr(2). */
export function fgetxattr(fd: number, name: Name, buf: Buffer | null): number {
  return orThrow('fgetxattr', tryFgetxattr(fd, name, buf));
}


// ---------------------------------------------------------------------------
// Credentials and ids

/**
 * setfsuid(2): the uid used for filesystem permission checks, for the calling
 * thread only. Returns the previous value; it cannot report failure (check by
 * calling again).
 */
export function setfsuid(uid: number): number {
  return c_setfsuid(uid | 0) >>> 0;
}

/** setfsgid(2): as setfsuid, for the gid. */
export function setfsgid(gid: number): number {
  return c_setfsgid(gid | 0) >>> 0;
}

/** getuid(2). */
export function getuid(): number {
  return c_getuid();
}

/** getgid(2). */
export function getgid(): number {
  return c_getgid();
}

/** getpid(2). */
export function getpid(): number {
  return c_getpid();
}

/** The calling thread's kernel id (differs from getpid() in worker threads), through syscall(2) with this architecture's number. */
export function gettid(): number {
  return c_sys0(arch.syscalls.gettid);
}
