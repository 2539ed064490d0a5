/**
 * The system calls Node lacks, bound to glibc with koffi. Each binding is made
 * once at load; each wrapper throws SysError on failure, and the try* variants
 * return -errno for the paths where failure is routine.
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

import os from 'node:os';
import koffi from 'koffi';
import { SysError, throwErrno } from './errors.js';
import type { Attr, Statx } from '../abi/types.js';
import {
  AT_FDCWD,
  AT_SYMLINK_NOFOLLOW,
  FUSE_DEV_IOC_BACKING_CLOSE,
  FUSE_DEV_IOC_BACKING_OPEN,
  FUSE_DEV_IOC_CLONE,
  FUSE_DEV_IOC_SYNC_INIT,
} from './constants.js';

export type Name = string | Buffer;

export interface Timespec {
  sec: number;
  /** Nanoseconds, or UTIME_NOW / UTIME_OMIT where the call accepts them. */
  nsec: number;
}

/** `struct stat` (64-bit fields are JS numbers, exact below 2^53): the FUSE attribute fields, so a Stat answers GETATTR as it is, plus the device. */
export interface Stat extends Omit<Attr, 'flags'> {
  dev: number;
}

/** `struct statx` (the same layout FUSE carries as `fuse_statx`), plus the fields FUSE has no room for. Fields not reported in `mask` are zero. */
export interface StatxResult extends Statx {
  mntId: bigint;
  dioMemAlign: number;
  dioOffsetAlign: number;
  subvol: bigint;
}

/** `struct statfs`. */
export interface StatFs {
  type: number;
  bsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  namelen: number;
  frsize: number;
  flags: number;
}

const { EINTR, EINVAL, EFAULT } = os.constants.errno;

// ---------------------------------------------------------------------------
// Bindings. Variadic glibc entry points (open, openat, ioctl, syscall) are
// declared with fixed parameters: on the x86-64 and aarch64 Linux ABIs integer
// and pointer arguments travel in the same registers either way, and the fixed
// form is koffi's fast path.

type CStr = string | Buffer | null;
type Ptr = Buffer | null;

const libc = koffi.load('libc.so.6');

function bind<F>(prototype: string): F {
  return libc.func(prototype) as unknown as F;
}

const c_open = bind<(path: CStr, flags: number, mode: number) => number>('int open(const char *, int, uint32_t)');
const c_openat = bind<(dirfd: number, name: CStr, flags: number, mode: number) => number>(
  'int openat(int, const char *, int, uint32_t)',
);
const c_close = bind<(fd: number) => number>('int close(int)');
const c_read = bind<(fd: number, buf: Ptr, len: number) => number>('intptr_t read(int, void *, size_t)');
const c_write = bind<(fd: number, buf: Ptr, len: number) => number>('intptr_t write(int, const void *, size_t)');
const c_pread = bind<(fd: number, buf: Ptr, len: number, pos: number) => number>(
  'intptr_t pread(int, void *, size_t, int64_t)',
);
const c_pwrite = bind<(fd: number, buf: Ptr, len: number, pos: number) => number>(
  'intptr_t pwrite(int, const void *, size_t, int64_t)',
);
const c_ioctl = bind<(fd: number, request: number, arg: Ptr) => number>('int ioctl(int, unsigned long, void *)');
const c_mount = bind<(source: CStr, target: CStr, fstype: CStr, flags: number, data: CStr) => number>(
  'int mount(const char *, const char *, const char *, unsigned long, const char *)',
);
const c_umount2 = bind<(target: CStr, flags: number) => number>('int umount2(const char *, int)');
const c_poll = bind<(fds: Ptr, nfds: number, timeout: number) => number>('int poll(void *, unsigned long, int)');
const c_fstatat = bind<(dirfd: number, name: CStr, st: Ptr, flags: number) => number>(
  'int fstatat(int, const char *, void *, int)',
);
const c_fstat = bind<(fd: number, st: Ptr) => number>('int fstat(int, void *)');
const c_statx = bind<(dirfd: number, name: CStr, flags: number, mask: number, stx: Ptr) => number>(
  'int statx(int, const char *, int, unsigned int, void *)',
);
const c_mkdirat = bind<(dirfd: number, name: CStr, mode: number) => number>('int mkdirat(int, const char *, uint32_t)');
const c_mknodat = bind<(dirfd: number, name: CStr, mode: number, dev: number) => number>(
  'int mknodat(int, const char *, uint32_t, uint64_t)',
);
const c_symlinkat = bind<(target: CStr, dirfd: number, name: CStr) => number>(
  'int symlinkat(const char *, int, const char *)',
);
const c_readlinkat = bind<(dirfd: number, name: CStr, buf: Ptr, size: number) => number>(
  'intptr_t readlinkat(int, const char *, void *, size_t)',
);
const c_unlinkat = bind<(dirfd: number, name: CStr, flags: number) => number>('int unlinkat(int, const char *, int)');
const c_renameat2 = bind<(oldDir: number, oldName: CStr, newDir: number, newName: CStr, flags: number) => number>(
  'int renameat2(int, const char *, int, const char *, unsigned int)',
);
const c_linkat = bind<(oldDir: number, oldName: CStr, newDir: number, newName: CStr, flags: number) => number>(
  'int linkat(int, const char *, int, const char *, int)',
);
const c_fchmod = bind<(fd: number, mode: number) => number>('int fchmod(int, uint32_t)');
// fchmodat2(2), Linux 6.6: the only chmod that takes flags (AT_EMPTY_PATH), so
// the only one that accepts an O_PATH descriptor. Glibc 2.36 has no wrapper;
// new system calls share one number on every architecture.
const SYS_fchmodat2 = 452;
const c_sys_fchmodat2 = bind<(nr: number, dirfd: number, name: CStr, mode: number, flags: number) => number>(
  'long syscall(long, int, const char *, uint32_t, int)',
);
const c_fchmodat = bind<(dirfd: number, name: CStr, mode: number, flags: number) => number>(
  'int fchmodat(int, const char *, uint32_t, int)',
);
// uid_t/gid_t are declared signed so that -1 ("leave unchanged") passes as-is;
// callers' values go through `| 0`, which keeps the same 32 bits.
const c_fchown = bind<(fd: number, uid: number, gid: number) => number>('int fchown(int, int, int)');
const c_fchownat = bind<(dirfd: number, name: CStr, uid: number, gid: number, flags: number) => number>(
  'int fchownat(int, const char *, int, int, int)',
);
const c_utimensat = bind<(dirfd: number, name: CStr, times: Ptr, flags: number) => number>(
  'int utimensat(int, const char *, const void *, int)',
);
// glibc's utimensat() rejects a NULL path with EINVAL; the kernel accepts it
// (it then acts on dirfd itself), so that case goes through syscall(2).
const SYS_utimensat = 280;
const c_sys_utimensat = bind<(nr: number, dirfd: number, name: Ptr, times: Ptr, flags: number) => number>(
  'long syscall(long, int, void *, const void *, int)',
);
const c_futimens = bind<(fd: number, times: Ptr) => number>('int futimens(int, const void *)');
const c_ftruncate = bind<(fd: number, len: number) => number>('int ftruncate(int, int64_t)');
const c_truncate = bind<(path: CStr, len: number) => number>('int truncate(const char *, int64_t)');
const c_fsync = bind<(fd: number) => number>('int fsync(int)');
const c_fdatasync = bind<(fd: number) => number>('int fdatasync(int)');
const c_syncfs = bind<(fd: number) => number>('int syncfs(int)');
const c_fallocate = bind<(fd: number, mode: number, offset: number, len: number) => number>(
  'int fallocate(int, int, int64_t, int64_t)',
);
const c_copy_file_range = bind<(fdIn: number, offIn: Ptr, fdOut: number, offOut: Ptr, len: number, flags: number) => number>(
  'intptr_t copy_file_range(int, void *, int, void *, size_t, unsigned int)',
);
const c_lseek = bind<(fd: number, offset: number | bigint, whence: number) => number | bigint>(
  'int64_t lseek(int, int64_t, int)',
);
const c_faccessat = bind<(dirfd: number, name: CStr, mode: number, flags: number) => number>(
  'int faccessat(int, const char *, int, int)',
);
const c_getdents64 = bind<(fd: number, buf: Ptr, size: number) => number>('intptr_t getdents64(int, void *, size_t)');
const c_getxattr = bind<(path: CStr, name: CStr, buf: Ptr, size: number) => number>(
  'intptr_t getxattr(const char *, const char *, void *, size_t)',
);
const c_lgetxattr = bind<(path: CStr, name: CStr, buf: Ptr, size: number) => number>(
  'intptr_t lgetxattr(const char *, const char *, void *, size_t)',
);
const c_fgetxattr = bind<(fd: number, name: CStr, buf: Ptr, size: number) => number>(
  'intptr_t fgetxattr(int, const char *, void *, size_t)',
);
const c_setxattr = bind<(path: CStr, name: CStr, value: Ptr, size: number, flags: number) => number>(
  'int setxattr(const char *, const char *, const void *, size_t, int)',
);
const c_lsetxattr = bind<(path: CStr, name: CStr, value: Ptr, size: number, flags: number) => number>(
  'int lsetxattr(const char *, const char *, const void *, size_t, int)',
);
const c_fsetxattr = bind<(fd: number, name: CStr, value: Ptr, size: number, flags: number) => number>(
  'int fsetxattr(int, const char *, const void *, size_t, int)',
);
const c_listxattr = bind<(path: CStr, buf: Ptr, size: number) => number>('intptr_t listxattr(const char *, void *, size_t)');
const c_llistxattr = bind<(path: CStr, buf: Ptr, size: number) => number>(
  'intptr_t llistxattr(const char *, void *, size_t)',
);
const c_flistxattr = bind<(fd: number, buf: Ptr, size: number) => number>('intptr_t flistxattr(int, void *, size_t)');
const c_removexattr = bind<(path: CStr, name: CStr) => number>('int removexattr(const char *, const char *)');
const c_lremovexattr = bind<(path: CStr, name: CStr) => number>('int lremovexattr(const char *, const char *)');
const c_fremovexattr = bind<(fd: number, name: CStr) => number>('int fremovexattr(int, const char *)');
const c_statfs = bind<(path: CStr, buf: Ptr) => number>('int statfs(const char *, void *)');
const c_fstatfs = bind<(fd: number, buf: Ptr) => number>('int fstatfs(int, void *)');
const c_setfsuid = bind<(uid: number) => number>('int setfsuid(int)');
const c_setfsgid = bind<(gid: number) => number>('int setfsgid(int)');
const c_getuid = bind<() => number>('uint32_t getuid()');
const c_geteuid = bind<() => number>('uint32_t geteuid()');
const c_getgid = bind<() => number>('uint32_t getgid()');
const c_getegid = bind<() => number>('uint32_t getegid()');
const c_getpid = bind<() => number>('int getpid()');
const c_getrlimit = bind<(resource: number, rlim: Ptr) => number>('int getrlimit(int, void *)');
const c_setrlimit = bind<(resource: number, rlim: Ptr) => number>('int setrlimit(int, const void *)');
const SYS_gettid = 186;
const c_sys0 = bind<(nr: number) => number>('long syscall(long)');

// ---------------------------------------------------------------------------
// Scratch memory for struct arguments and results, in one off-heap block so
// every view is stable and 8-byte aligned.

const STAT = 0; // struct stat, 144 bytes
const STATX = 256; // struct statx, 256 bytes
const STATFS = 512; // struct statfs, 120 bytes
const TIMES = 640; // struct timespec[2], 32 bytes
const POLLFD = 672; // struct pollfd, 8 bytes
const IOCTL_ARG = 688; // up to 16 bytes (struct fuse_backing_map)
const OFF_IN = 704; // loff_t for copy_file_range
const OFF_OUT = 712;
const SCRATCH_SIZE = 720;

const scratch = new ArrayBuffer(SCRATCH_SIZE);
const u16 = new Uint16Array(scratch);
const u32 = new Uint32Array(scratch);
const i32 = new Int32Array(scratch);
const u64big = new BigUint64Array(scratch);
const statBuf = Buffer.from(scratch, STAT, 144);
const statxBuf = Buffer.from(scratch, STATX, 256);
const statfsBuf = Buffer.from(scratch, STATFS, 120);
const timesBuf = Buffer.from(scratch, TIMES, 32);
const pollBuf = Buffer.from(scratch, POLLFD, 8);
const ioctlU32Buf = Buffer.from(scratch, IOCTL_ARG, 4);
const ioctlMapBuf = Buffer.from(scratch, IOCTL_ARG, 16);
const offInBuf = Buffer.from(scratch, OFF_IN, 8);
const offOutBuf = Buffer.from(scratch, OFF_OUT, 8);

const TWO_32 = 2 ** 32;

// Reads at byte offsets into `scratch`; all offsets used are 4-aligned.
function u32at(byte: number): number {
  return u32[byte >> 2]!;
}
function u64at(byte: number): number {
  return u32[byte >> 2]! + u32[(byte >> 2) + 1]! * TWO_32;
}
function i64at(byte: number): number {
  return u32[byte >> 2]! + i32[(byte >> 2) + 1]! * TWO_32;
}
function writeI64(byte: number, value: number): void {
  const hi = Math.floor(value / TWO_32);
  u32[byte >> 2] = value - hi * TWO_32;
  i32[(byte >> 2) + 1] = hi;
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
function cname(name: Name): string | Buffer | undefined {
  if (typeof name === 'string') return name.indexOf('\0') === -1 ? name : undefined;
  return rawName(name, false);
}

/** Same as cname, in the second slot, for calls taking two names. */
function cname2(name: Name): string | Buffer | undefined {
  if (typeof name === 'string') return name.indexOf('\0') === -1 ? name : undefined;
  return rawName(name, true);
}

function badName(syscall: string): never {
  throw new SysError(EINVAL, syscall);
}

// ---------------------------------------------------------------------------
// Error helpers. Each reads errno first thing after the failed call.

/** After a failed call: returns if it was EINTR (retry), else throws. */
function retryOrThrow(syscall: string): void {
  const e = koffi.errno();
  if (e !== EINTR) throwErrno(syscall, e);
}

function inRange(buf: Buffer, off: number, len: number): boolean {
  return off >= 0 && len >= 0 && off + len <= buf.length;
}

// ---------------------------------------------------------------------------
// Files

/** open(2). Returns the new fd. */
export function open(path: Name, flags: number, mode = 0): number {
  const p = cname(path) ?? badName('open');
  for (;;) {
    const fd = c_open(p, flags, mode);
    if (fd >= 0) return fd;
    retryOrThrow('open');
  }
}

/** openat(2). Returns the new fd. */
export function openat(dirfd: number, name: Name, flags: number, mode = 0): number {
  const p = cname(name) ?? badName('openat');
  for (;;) {
    const fd = c_openat(dirfd, p, flags, mode);
    if (fd >= 0) return fd;
    retryOrThrow('openat');
  }
}

/** openat(2) returning the fd, or -errno instead of throwing. */
export function tryOpenat(dirfd: number, name: Name, flags: number, mode = 0): number {
  const p = cname(name);
  if (p === undefined) return -EINVAL;
  for (;;) {
    const fd = c_openat(dirfd, p, flags, mode);
    if (fd >= 0) return fd;
    const e = koffi.errno();
    if (e !== EINTR) return -e;
  }
}

/** close(2). Never retried: Linux releases the fd even when close fails with EINTR. */
export function close(fd: number): void {
  if (c_close(fd) < 0) throwErrno('close', koffi.errno());
}

/** close(2) returning 0 or -errno. */
export function tryClose(fd: number): number {
  return c_close(fd) < 0 ? -koffi.errno() : 0;
}

/** read(2) into buf[off, off+len). Returns bytes read (0 at EOF). */
export function read(fd: number, buf: Buffer, off: number, len: number): number {
  if (!inRange(buf, off, len)) throwErrno('read', EFAULT);
  const p = off === 0 ? buf : buf.subarray(off);
  for (;;) {
    const n = c_read(fd, p, len);
    if (n >= 0) return n;
    retryOrThrow('read');
  }
}

/**
 * read(2) returning bytes read or -errno (e.g. -EAGAIN on a drained
 * non-blocking fd). Out-of-range off/len gives -EFAULT.
 */
export function tryRead(fd: number, buf: Buffer, off: number, len: number): number {
  if (!inRange(buf, off, len)) return -EFAULT;
  const p = off === 0 ? buf : buf.subarray(off);
  for (;;) {
    const n = c_read(fd, p, len);
    if (n >= 0) return n;
    const e = koffi.errno();
    if (e !== EINTR) return -e;
  }
}

/** write(2) from buf[off, off+len). Returns bytes written. */
export function write(fd: number, buf: Buffer, off: number, len: number): number {
  if (!inRange(buf, off, len)) throwErrno('write', EFAULT);
  const p = off === 0 ? buf : buf.subarray(off);
  for (;;) {
    const n = c_write(fd, p, len);
    if (n >= 0) return n;
    retryOrThrow('write');
  }
}

/** write(2) returning bytes written or -errno. */
export function tryWrite(fd: number, buf: Buffer, off: number, len: number): number {
  if (!inRange(buf, off, len)) return -EFAULT;
  const p = off === 0 ? buf : buf.subarray(off);
  for (;;) {
    const n = c_write(fd, p, len);
    if (n >= 0) return n;
    const e = koffi.errno();
    if (e !== EINTR) return -e;
  }
}

/** pread(2) into buf[off, off+len) from file offset `position`. */
export function pread(fd: number, buf: Buffer, off: number, len: number, position: number): number {
  if (!inRange(buf, off, len)) throwErrno('pread', EFAULT);
  const p = off === 0 ? buf : buf.subarray(off);
  for (;;) {
    const n = c_pread(fd, p, len, position);
    if (n >= 0) return n;
    retryOrThrow('pread');
  }
}

/** pwrite(2) from buf[off, off+len) at file offset `position`. */
export function pwrite(fd: number, buf: Buffer, off: number, len: number, position: number): number {
  if (!inRange(buf, off, len)) throwErrno('pwrite', EFAULT);
  const p = off === 0 ? buf : buf.subarray(off);
  for (;;) {
    const n = c_pwrite(fd, p, len, position);
    if (n >= 0) return n;
    retryOrThrow('pwrite');
  }
}

// ---------------------------------------------------------------------------
// ioctl, mount, poll

function ioctlChecked(fd: number, request: number, arg: Ptr): number {
  for (;;) {
    const r = c_ioctl(fd, request, arg);
    if (r >= 0) return r;
    retryOrThrow('ioctl');
  }
}

/** ioctl(2) with a pointer argument. Returns the ioctl's non-negative result. */
export function ioctlBuffer(fd: number, request: number, arg: Buffer): number {
  return ioctlChecked(fd, request, arg);
}

/** FUSE_DEV_IOC_CLONE: attach a freshly opened /dev/fuse fd to the session of `mountedFd`. */
export function fuseDevClone(newFd: number, mountedFd: number): void {
  u32[IOCTL_ARG >> 2] = mountedFd;
  ioctlChecked(newFd, FUSE_DEV_IOC_CLONE, ioctlU32Buf);
}

/** FUSE_DEV_IOC_BACKING_OPEN: register `fd` as a passthrough backing file. Returns its id. */
export function fuseBackingOpen(devFd: number, fd: number): number {
  const w = IOCTL_ARG >> 2;
  i32[w] = fd; // fd
  u32[w + 1] = 0; // flags
  u32[w + 2] = 0; // padding (u64)
  u32[w + 3] = 0;
  return ioctlChecked(devFd, FUSE_DEV_IOC_BACKING_OPEN, ioctlMapBuf);
}

/** FUSE_DEV_IOC_BACKING_CLOSE: drop a backing id returned by fuseBackingOpen. */
export function fuseBackingClose(devFd: number, id: number): void {
  u32[IOCTL_ARG >> 2] = id;
  ioctlChecked(devFd, FUSE_DEV_IOC_BACKING_CLOSE, ioctlU32Buf);
}

/** FUSE_DEV_IOC_SYNC_INIT: ask the kernel to send FUSE_INIT synchronously at mount (6.18+). */
export function fuseSyncInit(devFd: number): void {
  ioctlChecked(devFd, FUSE_DEV_IOC_SYNC_INIT, null);
}

function cstr(value: string, syscall: string): string {
  return value.indexOf('\0') === -1 ? value : badName(syscall);
}

/** mount(2). `data` is the filesystem-specific option string. */
export function mount(source: string, target: string, fstype: string, flags: number, data: string | null): void {
  const s = cstr(source, 'mount');
  const t = cstr(target, 'mount');
  const f = cstr(fstype, 'mount');
  const d = data === null ? null : cstr(data, 'mount');
  for (;;) {
    if (c_mount(s, t, f, flags, d) === 0) return;
    retryOrThrow('mount');
  }
}

/** umount2(2). */
export function umount2(target: string, flags: number): void {
  const t = cstr(target, 'umount2');
  for (;;) {
    if (c_umount2(t, flags) === 0) return;
    retryOrThrow('umount2');
  }
}

/** A descriptor watched by the event loop itself (libuv's poll handle, level-triggered). */
export interface ReadableWatch {
  /** Stops calling back until resume(). */
  pause(): void;
  resume(): void;
  /** Stops watching for good. */
  close(): void;
}

/**
 * Calls `onReadable` from the event loop whenever `fd` is readable (or has hung
 * up), without any helper thread: the loop's own epoll waits on the descriptor.
 */
export function watchReadable(fd: number, onReadable: () => void): ReadableWatch {
  const opts = { readable: true, disconnect: true };
  const cb = () => onReadable();
  const handle = koffi.node.poll(fd, opts, cb);
  return {
    pause: () => handle.stop(),
    resume: () => handle.start(opts, cb),
    close: () => handle.close(),
  };
}

/**
 * poll(2) on one fd. Returns revents, or 0 on timeout or EINTR (not retried:
 * the caller's timeout would restart and a signal should get a chance to be seen).
 */
export function pollOne(fd: number, events: number, timeoutMs: number): number {
  i32[POLLFD >> 2] = fd;
  u16[(POLLFD + 4) >> 1] = events;
  u16[(POLLFD + 6) >> 1] = 0;
  const r = c_poll(pollBuf, 1, timeoutMs);
  if (r > 0) return u16[(POLLFD + 6) >> 1]!;
  if (r === 0) return 0;
  const e = koffi.errno();
  if (e === EINTR) return 0;
  throwErrno('poll', e);
}

// ---------------------------------------------------------------------------
// stat family

function decodeStat(): Stat {
  return {
    dev: u64at(STAT + 0),
    ino: u64at(STAT + 8),
    mode: u32at(STAT + 24),
    nlink: u64at(STAT + 16),
    uid: u32at(STAT + 28),
    gid: u32at(STAT + 32),
    rdev: u64at(STAT + 40),
    size: i64at(STAT + 48),
    blksize: i64at(STAT + 56),
    blocks: i64at(STAT + 64),
    atimeSec: i64at(STAT + 72),
    atimeNsec: i64at(STAT + 80),
    mtimeSec: i64at(STAT + 88),
    mtimeNsec: i64at(STAT + 96),
    ctimeSec: i64at(STAT + 104),
    ctimeNsec: i64at(STAT + 112),
  };
}

function decodeStatInto(out: Stat): void {
  out.dev = u64at(STAT + 0);
  out.ino = u64at(STAT + 8);
  out.mode = u32at(STAT + 24);
  out.nlink = u64at(STAT + 16);
  out.uid = u32at(STAT + 28);
  out.gid = u32at(STAT + 32);
  out.rdev = u64at(STAT + 40);
  out.size = i64at(STAT + 48);
  out.blksize = i64at(STAT + 56);
  out.blocks = i64at(STAT + 64);
  out.atimeSec = i64at(STAT + 72);
  out.atimeNsec = i64at(STAT + 80);
  out.mtimeSec = i64at(STAT + 88);
  out.mtimeNsec = i64at(STAT + 96);
  out.ctimeSec = i64at(STAT + 104);
  out.ctimeNsec = i64at(STAT + 112);
}

/** A zeroed Stat, e.g. as the reusable `out` object for tryFstatat. */
export function emptyStat(): Stat {
  return {
    dev: 0, ino: 0, mode: 0, nlink: 0, uid: 0, gid: 0, rdev: 0, size: 0, blksize: 0, blocks: 0,
    atimeSec: 0, atimeNsec: 0, mtimeSec: 0, mtimeNsec: 0, ctimeSec: 0, ctimeNsec: 0,
  };
}

/** fstatat(2). */
export function fstatat(dirfd: number, name: Name, flags: number): Stat {
  const p = cname(name) ?? badName('fstatat');
  for (;;) {
    if (c_fstatat(dirfd, p, statBuf, flags) === 0) return decodeStat();
    retryOrThrow('fstatat');
  }
}

/** fstatat(2) into `out`, returning 0 or -errno (for lookups where ENOENT is normal). */
export function tryFstatat(dirfd: number, name: Name, flags: number, out: Stat): number {
  const p = cname(name);
  if (p === undefined) return -EINVAL;
  for (;;) {
    if (c_fstatat(dirfd, p, statBuf, flags) === 0) {
      decodeStatInto(out);
      return 0;
    }
    const e = koffi.errno();
    if (e !== EINTR) return -e;
  }
}

/** fstat(2). */
export function fstat(fd: number): Stat {
  for (;;) {
    if (c_fstat(fd, statBuf) === 0) return decodeStat();
    retryOrThrow('fstat');
  }
}

/** lstat(2). */
export function lstat(path: Name): Stat {
  const p = cname(path) ?? badName('lstat');
  for (;;) {
    if (c_fstatat(AT_FDCWD, p, statBuf, AT_SYMLINK_NOFOLLOW) === 0) return decodeStat();
    retryOrThrow('lstat');
  }
}

function statxTime(byte: number): Timespec {
  return { sec: i64at(byte), nsec: u32at(byte + 8) };
}

/** statx(2). `mask` selects the STATX_* fields wanted; the result's `mask` says which were filled. */
export function statx(dirfd: number, name: Name, flags: number, mask: number): StatxResult {
  const p = cname(name) ?? badName('statx');
  for (;;) {
    if (c_statx(dirfd, p, flags, mask, statxBuf) === 0) break;
    retryOrThrow('statx');
  }
  return {
    mask: u32at(STATX + 0),
    blksize: u32at(STATX + 4),
    attributes: u64big[(STATX + 8) >> 3]!,
    nlink: u32at(STATX + 16),
    uid: u32at(STATX + 20),
    gid: u32at(STATX + 24),
    mode: u16[(STATX + 28) >> 1]!,
    ino: u64at(STATX + 32),
    size: u64at(STATX + 40),
    blocks: u64at(STATX + 48),
    attributesMask: u64big[(STATX + 56) >> 3]!,
    atime: statxTime(STATX + 64),
    btime: statxTime(STATX + 80),
    ctime: statxTime(STATX + 96),
    mtime: statxTime(STATX + 112),
    rdevMajor: u32at(STATX + 128),
    rdevMinor: u32at(STATX + 132),
    devMajor: u32at(STATX + 136),
    devMinor: u32at(STATX + 140),
    mntId: u64big[(STATX + 144) >> 3]!,
    dioMemAlign: u32at(STATX + 152),
    dioOffsetAlign: u32at(STATX + 156),
    subvol: u64big[(STATX + 160) >> 3]!,
  };
}

function decodeStatfs(): StatFs {
  return {
    type: i64at(STATFS + 0),
    bsize: i64at(STATFS + 8),
    blocks: u64at(STATFS + 16),
    bfree: u64at(STATFS + 24),
    bavail: u64at(STATFS + 32),
    files: u64at(STATFS + 40),
    ffree: u64at(STATFS + 48),
    namelen: i64at(STATFS + 64),
    frsize: i64at(STATFS + 72),
    flags: i64at(STATFS + 80),
  };
}

/** statfs(2). */
export function statfs(path: Name): StatFs {
  const p = cname(path) ?? badName('statfs');
  for (;;) {
    if (c_statfs(p, statfsBuf) === 0) return decodeStatfs();
    retryOrThrow('statfs');
  }
}

/** fstatfs(2). */
export function fstatfs(fd: number): StatFs {
  for (;;) {
    if (c_fstatfs(fd, statfsBuf) === 0) return decodeStatfs();
    retryOrThrow('fstatfs');
  }
}

// ---------------------------------------------------------------------------
// Namespace operations

/** mkdirat(2). */
export function mkdirat(dirfd: number, name: Name, mode: number): void {
  const p = cname(name) ?? badName('mkdirat');
  for (;;) {
    if (c_mkdirat(dirfd, p, mode) === 0) return;
    retryOrThrow('mkdirat');
  }
}

/** mknodat(2). `dev` in glibc's dev_t encoding (see makedev). */
export function mknodat(dirfd: number, name: Name, mode: number, dev: number): void {
  const p = cname(name) ?? badName('mknodat');
  for (;;) {
    if (c_mknodat(dirfd, p, mode, dev) === 0) return;
    retryOrThrow('mknodat');
  }
}

/** symlinkat(2): create `name` in `dirfd` pointing at `target`. */
export function symlinkat(target: Name, dirfd: number, name: Name): void {
  const t = cname(target) ?? badName('symlinkat');
  const p = cname2(name) ?? badName('symlinkat');
  for (;;) {
    if (c_symlinkat(t, dirfd, p) === 0) return;
    retryOrThrow('symlinkat');
  }
}

let linkScratch = Buffer.allocUnsafeSlow(4096);

/**
 * readlinkat(2). Returns a fresh Buffer with the exact target bytes. An empty
 * name with an O_PATH fd of a symlink reads that symlink.
 */
export function readlinkat(dirfd: number, name: Name): Buffer {
  const p = cname(name) ?? badName('readlinkat');
  for (;;) {
    const n = c_readlinkat(dirfd, p, linkScratch, linkScratch.length);
    if (n < 0) {
      retryOrThrow('readlinkat');
      continue;
    }
    // readlink truncates silently: a full buffer may mean a longer target.
    if (n === linkScratch.length) {
      linkScratch = Buffer.allocUnsafeSlow(linkScratch.length * 2);
      continue;
    }
    const out = Buffer.allocUnsafe(n);
    linkScratch.copy(out, 0, 0, n);
    return out;
  }
}

/** unlinkat(2); AT_REMOVEDIR removes a directory. */
export function unlinkat(dirfd: number, name: Name, flags: number): void {
  const p = cname(name) ?? badName('unlinkat');
  for (;;) {
    if (c_unlinkat(dirfd, p, flags) === 0) return;
    retryOrThrow('unlinkat');
  }
}

/** renameat2(2) with RENAME_NOREPLACE / RENAME_EXCHANGE / RENAME_WHITEOUT flags. */
export function renameat2(olddirfd: number, oldname: Name, newdirfd: number, newname: Name, flags: number): void {
  const a = cname(oldname) ?? badName('renameat2');
  const b = cname2(newname) ?? badName('renameat2');
  for (;;) {
    if (c_renameat2(olddirfd, a, newdirfd, b, flags) === 0) return;
    retryOrThrow('renameat2');
  }
}

/** linkat(2). */
export function linkat(olddirfd: number, oldname: Name, newdirfd: number, newname: Name, flags: number): void {
  const a = cname(oldname) ?? badName('linkat');
  const b = cname2(newname) ?? badName('linkat');
  for (;;) {
    if (c_linkat(olddirfd, a, newdirfd, b, flags) === 0) return;
    retryOrThrow('linkat');
  }
}

// ---------------------------------------------------------------------------
// Attributes

/** fchmod(2). */
export function fchmod(fd: number, mode: number): void {
  for (;;) {
    if (c_fchmod(fd, mode) === 0) return;
    retryOrThrow('fchmod');
  }
}

/** fchmodat(2). */
export function fchmodat(dirfd: number, name: Name, mode: number, flags: number): void {
  const p = cname(name) ?? badName('fchmodat');
  for (;;) {
    if (c_fchmodat(dirfd, p, mode, flags) === 0) return;
    retryOrThrow('fchmodat');
  }
}

/** fchmodat2(2) (Linux 6.6+; ENOSYS before). With AT_EMPTY_PATH and "" it changes the file `dirfd` names, O_PATH included. */
export function fchmodat2(dirfd: number, name: Name, mode: number, flags: number): void {
  const p = cname(name) ?? badName('fchmodat2');
  for (;;) {
    if (c_sys_fchmodat2(SYS_fchmodat2, dirfd, p, mode, flags) === 0) return;
    retryOrThrow('fchmodat2');
  }
}

/** fchown(2). -1 leaves uid or gid unchanged. */
export function fchown(fd: number, uid: number, gid: number): void {
  for (;;) {
    if (c_fchown(fd, uid | 0, gid | 0) === 0) return;
    retryOrThrow('fchown');
  }
}

/** fchownat(2). -1 leaves uid or gid unchanged. */
export function fchownat(dirfd: number, name: Name, uid: number, gid: number, flags: number): void {
  const p = cname(name) ?? badName('fchownat');
  for (;;) {
    if (c_fchownat(dirfd, p, uid | 0, gid | 0, flags) === 0) return;
    retryOrThrow('fchownat');
  }
}

function setTimes(atime: Timespec, mtime: Timespec): void {
  writeI64(TIMES + 0, atime.sec);
  writeI64(TIMES + 8, atime.nsec);
  writeI64(TIMES + 16, mtime.sec);
  writeI64(TIMES + 24, mtime.nsec);
}

/**
 * utimensat(2). `nsec` may be UTIME_NOW or UTIME_OMIT. A null name acts on
 * dirfd itself (the raw syscall's semantics).
 */
export function utimensat(dirfd: number, name: Name | null, atime: Timespec, mtime: Timespec, flags: number): void {
  const p = name === null ? null : (cname(name) ?? badName('utimensat'));
  setTimes(atime, mtime);
  for (;;) {
    const r = p === null ? c_sys_utimensat(SYS_utimensat, dirfd, null, timesBuf, flags) : c_utimensat(dirfd, p, timesBuf, flags);
    if (r === 0) return;
    retryOrThrow('utimensat');
  }
}

/** futimens(2). */
export function futimens(fd: number, atime: Timespec, mtime: Timespec): void {
  setTimes(atime, mtime);
  for (;;) {
    if (c_futimens(fd, timesBuf) === 0) return;
    retryOrThrow('futimens');
  }
}

/** ftruncate(2). */
export function ftruncate(fd: number, len: number): void {
  for (;;) {
    if (c_ftruncate(fd, len) === 0) return;
    retryOrThrow('ftruncate');
  }
}

/** truncate(2). */
export function truncate(path: Name, len: number): void {
  const p = cname(path) ?? badName('truncate');
  for (;;) {
    if (c_truncate(p, len) === 0) return;
    retryOrThrow('truncate');
  }
}

/** fsync(2). */
export function fsync(fd: number): void {
  for (;;) {
    if (c_fsync(fd) === 0) return;
    retryOrThrow('fsync');
  }
}

/** fdatasync(2). */
export function fdatasync(fd: number): void {
  for (;;) {
    if (c_fdatasync(fd) === 0) return;
    retryOrThrow('fdatasync');
  }
}

/** syncfs(2). */
export function syncfs(fd: number): void {
  for (;;) {
    if (c_syncfs(fd) === 0) return;
    retryOrThrow('syncfs');
  }
}

/** fallocate(2) with FALLOC_FL_* mode bits. */
export function fallocate(fd: number, mode: number, offset: number, len: number): void {
  for (;;) {
    if (c_fallocate(fd, mode, offset, len) === 0) return;
    retryOrThrow('fallocate');
  }
}

/**
 * copy_file_range(2). A null offset uses (and advances) the fd's file
 * position; a number is used as-is and not reported back. Returns bytes copied.
 */
export function copyFileRange(
  fdIn: number,
  offIn: number | null,
  fdOut: number,
  offOut: number | null,
  len: number,
  flags: number,
): number {
  if (offIn !== null) writeI64(OFF_IN, offIn);
  if (offOut !== null) writeI64(OFF_OUT, offOut);
  const pIn = offIn === null ? null : offInBuf;
  const pOut = offOut === null ? null : offOutBuf;
  for (;;) {
    const n = c_copy_file_range(fdIn, pIn, fdOut, pOut, len, flags);
    if (n >= 0) return n;
    retryOrThrow('copy_file_range');
  }
}

/**
 * lseek(2), including SEEK_DATA/SEEK_HOLE (ENXIO past the last data). Returns
 * the new offset. `offset` may be a bigint, for directory cookies (d_off) that
 * exceed 2^53; the returned offset is a number and then loses precision.
 */
export function lseek(fd: number, offset: number | bigint, whence: number): number {
  for (;;) {
    const r = Number(c_lseek(fd, offset, whence));
    if (r >= 0) return r;
    retryOrThrow('lseek');
  }
}

/** faccessat(2) with F_OK or R_OK|W_OK|X_OK; throws (e.g. EACCES) when denied. */
export function faccessat(dirfd: number, name: Name, mode: number, flags: number): void {
  const p = cname(name) ?? badName('faccessat');
  for (;;) {
    if (c_faccessat(dirfd, p, mode, flags) === 0) return;
    retryOrThrow('faccessat');
  }
}

// ---------------------------------------------------------------------------
// Directories

/** getdents64(2) into buf. Returns bytes filled, 0 at the end of the directory. */
export function getdents64(fd: number, buf: Buffer): number {
  for (;;) {
    const n = c_getdents64(fd, buf, buf.length);
    if (n >= 0) return n;
    retryOrThrow('getdents64');
  }
}

/**
 * Walks the linux_dirent64 records in buf[start, len):
 *   u64 d_ino @0, i64 d_off @8, u16 d_reclen @16, u8 d_type @18, name @19 (NUL-terminated).
 * `nameBytes` is a view into buf without the NUL; copy it to keep it. `off` is
 * the position after this entry (pass it to lseek to resume there). When
 * `visit` returns false the walk stops and that record counts as not consumed.
 * Returns the byte offset just past the last consumed record (`len` if all were).
 */
export function parseDirents(
  buf: Buffer,
  len: number,
  visit: (ino: number, off: bigint, type: number, nameBytes: Buffer) => boolean | void,
  start = 0,
): number {
  const end = Math.min(len, buf.length);
  let pos = start;
  while (pos + 19 < end) {
    const reclen = buf.readUInt16LE(pos + 16);
    const next = pos + reclen;
    if (reclen < 20 || next > end) break; // malformed; never loop or read past the data
    // reclen is the name's end + 1 rounded up to 8, so the NUL lies in the last
    // 8 bytes; bytes after it are not cleared by the kernel, so scan forward.
    let nul = Math.max(pos + 19, next - 8);
    while (nul < next && buf[nul] !== 0) nul++;
    const ino = buf.readUInt32LE(pos) + buf.readUInt32LE(pos + 4) * TWO_32;
    const off = buf.readBigInt64LE(pos + 8);
    if (visit(ino, off, buf[pos + 18]!, buf.subarray(pos + 19, nul)) === false) return pos;
    pos = next;
  }
  return pos;
}

// ---------------------------------------------------------------------------
// Extended attributes. A null or empty buffer asks for the size needed.

function bufOrNull(buf: Buffer | null): Buffer | null {
  return buf !== null && buf.length > 0 ? buf : null;
}

/** getxattr(2). Returns the value's size (the size needed if buf is null/empty). */
export function getxattr(path: Name, name: Name, buf: Buffer | null): number {
  const n = tryGetxattr(path, name, buf);
  return n >= 0 ? n : throwErrno('getxattr', -n);
}

/** getxattr(2) returning -errno instead of throwing: ENODATA is the usual answer (the kernel probes security.capability before writes). */
export function tryGetxattr(path: Name, name: Name, buf: Buffer | null): number {
  const p = cname(path);
  const k = cname2(name);
  if (p === undefined || k === undefined) return -EINVAL;
  const b = bufOrNull(buf);
  for (;;) {
    const n = c_getxattr(p, k, b, b === null ? 0 : b.length);
    if (n >= 0) return n;
    const e = koffi.errno();
    if (e !== EINTR) return -e;
  }
}

/** lgetxattr(2): getxattr without following a final symlink. */
export function lgetxattr(path: Name, name: Name, buf: Buffer | null): number {
  const p = cname(path) ?? badName('lgetxattr');
  const k = cname2(name) ?? badName('lgetxattr');
  const b = bufOrNull(buf);
  for (;;) {
    const n = c_lgetxattr(p, k, b, b === null ? 0 : b.length);
    if (n >= 0) return n;
    retryOrThrow('lgetxattr');
  }
}

/** fgetxattr(2) returning -errno instead of throwing, like tryGetxattr. */
export function tryFgetxattr(fd: number, name: Name, buf: Buffer | null): number {
  const k = cname2(name);
  if (k === undefined) return -EINVAL;
  const b = bufOrNull(buf);
  for (;;) {
    const n = c_fgetxattr(fd, k, b, b === null ? 0 : b.length);
    if (n >= 0) return n;
    const e = koffi.errno();
    if (e !== EINTR) return -e;
  }
}

/** fgetxattr(2). */
export function fgetxattr(fd: number, name: Name, buf: Buffer | null): number {
  const n = tryFgetxattr(fd, name, buf);
  return n >= 0 ? n : throwErrno('fgetxattr', -n);
}

/** setxattr(2) with XATTR_CREATE / XATTR_REPLACE flags. */
export function setxattr(path: Name, name: Name, value: Buffer, flags: number): void {
  const p = cname(path) ?? badName('setxattr');
  const k = cname2(name) ?? badName('setxattr');
  for (;;) {
    if (c_setxattr(p, k, value, value.length, flags) === 0) return;
    retryOrThrow('setxattr');
  }
}

/** lsetxattr(2). */
export function lsetxattr(path: Name, name: Name, value: Buffer, flags: number): void {
  const p = cname(path) ?? badName('lsetxattr');
  const k = cname2(name) ?? badName('lsetxattr');
  for (;;) {
    if (c_lsetxattr(p, k, value, value.length, flags) === 0) return;
    retryOrThrow('lsetxattr');
  }
}

/** fsetxattr(2). */
export function fsetxattr(fd: number, name: Name, value: Buffer, flags: number): void {
  const k = cname2(name) ?? badName('fsetxattr');
  for (;;) {
    if (c_fsetxattr(fd, k, value, value.length, flags) === 0) return;
    retryOrThrow('fsetxattr');
  }
}

/** listxattr(2): NUL-separated names. Returns bytes used (or needed, if buf is null/empty). */
export function listxattr(path: Name, buf: Buffer | null): number {
  const p = cname(path) ?? badName('listxattr');
  const b = bufOrNull(buf);
  for (;;) {
    const n = c_listxattr(p, b, b === null ? 0 : b.length);
    if (n >= 0) return n;
    retryOrThrow('listxattr');
  }
}

/** llistxattr(2). */
export function llistxattr(path: Name, buf: Buffer | null): number {
  const p = cname(path) ?? badName('llistxattr');
  const b = bufOrNull(buf);
  for (;;) {
    const n = c_llistxattr(p, b, b === null ? 0 : b.length);
    if (n >= 0) return n;
    retryOrThrow('llistxattr');
  }
}

/** flistxattr(2). */
export function flistxattr(fd: number, buf: Buffer | null): number {
  const b = bufOrNull(buf);
  for (;;) {
    const n = c_flistxattr(fd, b, b === null ? 0 : b.length);
    if (n >= 0) return n;
    retryOrThrow('flistxattr');
  }
}

/** removexattr(2). */
export function removexattr(path: Name, name: Name): void {
  const p = cname(path) ?? badName('removexattr');
  const k = cname2(name) ?? badName('removexattr');
  for (;;) {
    if (c_removexattr(p, k) === 0) return;
    retryOrThrow('removexattr');
  }
}

/** lremovexattr(2). */
export function lremovexattr(path: Name, name: Name): void {
  const p = cname(path) ?? badName('lremovexattr');
  const k = cname2(name) ?? badName('lremovexattr');
  for (;;) {
    if (c_lremovexattr(p, k) === 0) return;
    retryOrThrow('lremovexattr');
  }
}

/** fremovexattr(2). */
export function fremovexattr(fd: number, name: Name): void {
  const k = cname2(name) ?? badName('fremovexattr');
  for (;;) {
    if (c_fremovexattr(fd, k) === 0) return;
    retryOrThrow('fremovexattr');
  }
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

export function getuid(): number {
  return c_getuid();
}
export function geteuid(): number {
  return c_geteuid();
}
export function getgid(): number {
  return c_getgid();
}
export function getegid(): number {
  return c_getegid();
}
export function getpid(): number {
  return c_getpid();
}
/** The calling thread's kernel id (differs from getpid() in worker threads). */
export function gettid(): number {
  return c_sys0(SYS_gettid);
}

const RLIMIT_NOFILE = 7;

/** The process's open-descriptor limit: { soft, hard }. */
export function getNofileLimit(): { soft: number; hard: number } {
  const b = Buffer.alloc(16);
  if (c_getrlimit(RLIMIT_NOFILE, b) !== 0) throwErrno('getrlimit');
  return { soft: Number(b.readBigUInt64LE(0)), hard: Number(b.readBigUInt64LE(8)) };
}

/** Sets both the soft and hard descriptor limit (raising the hard one needs CAP_SYS_RESOURCE). */
export function setNofileLimit(soft: number, hard: number): void {
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(BigInt(soft), 0);
  b.writeBigUInt64LE(BigInt(hard), 8);
  if (c_setrlimit(RLIMIT_NOFILE, b) !== 0) throwErrno('setrlimit');
}
