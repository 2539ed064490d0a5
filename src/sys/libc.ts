/**
 * The system calls Node lacks, bound to glibc with koffi. Each binding is made
 * once at load; each wrapper throws SysError on failure, and the try* variants
 * return -errno for the paths where failure is routine. EINTR is retried.
 *
 * Conventions for names, scratch memory and errors: binding.ts. Struct layouts
 * and syscall numbers: this machine's table in arch.ts, through structs.ts.
 */

import os from 'node:os';
import koffi from 'koffi';
import { arch } from './arch.js';
import { throwErrno } from './errors.js';
import { bind, cname, cname2, badName, callOrThrow, callOrErrno, inRange, sizeQueryOrNull } from './binding.js';
import type { CStr, Name, Ptr } from './binding.js';
import {
  statBuf, statxBuf, statfsBuf, decodeStat, decodeStatInto, decodeStatx, decodeStatfs,
  encodeTimes, encodeBackingMap, encodeU32, encodeOffIn, encodeOffOut, readUint,
} from './structs.js';
import type { Stat, StatFs, StatxResult } from './structs.js';
import type { Timespec } from '../abi/types.js';
import { FUSE_DEV_IOC_BACKING_CLOSE, FUSE_DEV_IOC_BACKING_OPEN, MAX_HANDLE_SZ, RLIMIT_NOFILE } from './constants.js';

export type { Name } from './binding.js';
export type { Stat, StatFs, StatxResult } from './structs.js';
export { emptyStat } from './structs.js';

const { EINVAL, EFAULT } = os.constants.errno;

// ---------------------------------------------------------------------------
// Bindings

const c_open = bind<(path: CStr, flags: number, mode: number) => number>('int open(const char *, int, uint32_t)');
const c_openat = bind<(dirfd: number, name: CStr, flags: number, mode: number) => number>(
  'int openat(int, const char *, int, uint32_t)',
);
const c_close = bind<(fd: number) => number>('int close(int)');
const c_read = bind<(fd: number, buf: Ptr, len: number) => number>('intptr_t read(int, void *, size_t)');
const c_write = bind<(fd: number, buf: Ptr, len: number) => number>('intptr_t write(int, const void *, size_t)');
const c_ioctl = bind<(fd: number, request: number, arg: Ptr) => number>('int ioctl(int, unsigned long, void *)');
const c_mount = bind<(source: CStr, target: CStr, fstype: CStr, flags: number, data: CStr) => number>(
  'int mount(const char *, const char *, const char *, unsigned long, const char *)',
);
const c_umount2 = bind<(target: CStr, flags: number) => number>('int umount2(const char *, int)');
const c_fstatat = bind<(dirfd: number, name: CStr, st: Ptr, flags: number) => number>(
  'int fstatat(int, const char *, void *, int)',
);
const c_fstat = bind<(fd: number, st: Ptr) => number>('int fstat(int, void *)');
const c_statx = bind<(dirfd: number, name: CStr, flags: number, mask: number, stx: Ptr) => number>(
  'int statx(int, const char *, int, unsigned int, void *)',
);
const c_name_to_handle_at = bind<(dirfd: number, name: CStr, handle: Ptr, mountId: Ptr, flags: number) => number>(
  'int name_to_handle_at(int, const char *, void *, void *, int)',
);
const c_open_by_handle_at = bind<(mountFd: number, handle: Ptr, flags: number) => number>('int open_by_handle_at(int, void *, int)');
const c_fstatfs = bind<(fd: number, buf: Ptr) => number>('int fstatfs(int, void *)');
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
// the only one that accepts an O_PATH descriptor. Glibc 2.36 has no wrapper.
const c_sys_fchmodat2 = bind<(nr: number, dirfd: number, name: CStr, mode: number, flags: number) => number>(
  'long syscall(long, int, const char *, uint32_t, int)',
);
const c_fchmodat = bind<(dirfd: number, name: CStr, mode: number, flags: number) => number>(
  'int fchmodat(int, const char *, uint32_t, int)',
);
const c_faccessat = bind<(dirfd: number, name: CStr, mode: number, flags: number) => number>(
  'int faccessat(int, const char *, int, int)',
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
const c_sys_utimensat = bind<(nr: number, dirfd: number, name: Ptr, times: Ptr, flags: number) => number>(
  'long syscall(long, int, void *, const void *, int)',
);
const c_futimens = bind<(fd: number, times: Ptr) => number>('int futimens(int, const void *)');
const c_ftruncate = bind<(fd: number, len: number) => number>('int ftruncate(int, int64_t)');
const c_truncate = bind<(path: CStr, len: number) => number>('int truncate(const char *, int64_t)');
const c_fallocate = bind<(fd: number, mode: number, offset: number, len: number) => number>(
  'int fallocate(int, int, int64_t, int64_t)',
);
const c_copy_file_range = bind<(fdIn: number, offIn: Ptr, fdOut: number, offOut: Ptr, len: number, flags: number) => number>(
  'intptr_t copy_file_range(int, void *, int, void *, size_t, unsigned int)',
);
const c_lseek = bind<(fd: number, offset: number | bigint, whence: number) => number | bigint>(
  'int64_t lseek(int, int64_t, int)',
);
const c_getdents64 = bind<(fd: number, buf: Ptr, size: number) => number>('intptr_t getdents64(int, void *, size_t)');
const c_getxattr = bind<(path: CStr, name: CStr, buf: Ptr, size: number) => number>(
  'intptr_t getxattr(const char *, const char *, void *, size_t)',
);
const c_fgetxattr = bind<(fd: number, name: CStr, buf: Ptr, size: number) => number>(
  'intptr_t fgetxattr(int, const char *, void *, size_t)',
);
const c_setxattr = bind<(path: CStr, name: CStr, value: Ptr, size: number, flags: number) => number>(
  'int setxattr(const char *, const char *, const void *, size_t, int)',
);
const c_fsetxattr = bind<(fd: number, name: CStr, value: Ptr, size: number, flags: number) => number>(
  'int fsetxattr(int, const char *, const void *, size_t, int)',
);
const c_listxattr = bind<(path: CStr, buf: Ptr, size: number) => number>('intptr_t listxattr(const char *, void *, size_t)');
const c_flistxattr = bind<(fd: number, buf: Ptr, size: number) => number>('intptr_t flistxattr(int, void *, size_t)');
const c_removexattr = bind<(path: CStr, name: CStr) => number>('int removexattr(const char *, const char *)');
const c_fremovexattr = bind<(fd: number, name: CStr) => number>('int fremovexattr(int, const char *)');
const c_geteuid = bind<() => number>('uint32_t geteuid()');
const c_getegid = bind<() => number>('uint32_t getegid()');
const c_getrlimit = bind<(resource: number, rlim: Ptr) => number>('int getrlimit(int, void *)');
const c_setrlimit = bind<(resource: number, rlim: Ptr) => number>('int setrlimit(int, const void *)');

// ---------------------------------------------------------------------------
// Files

/** open(2). Returns the new fd. */
export function open(path: Name, flags: number, mode = 0): number {
  const p = cname(path) ?? badName('open');
  return callOrThrow('open', () => c_open(p, flags, mode));
}

/** openat(2). Returns the new fd. */
export function openat(dirfd: number, name: Name, flags: number, mode = 0): number {
  const p = cname(name) ?? badName('openat');
  return callOrThrow('openat', () => c_openat(dirfd, p, flags, mode));
}

const c_fcntl = bind<(fd: number, cmd: number, arg: number) => number>('int fcntl(int, int, int)');
const F_DUPFD_CLOEXEC = 1030;

/** A second descriptor of the same open file (close-on-exec), for a call in flight that must outlive the first. */
export function dupCloexec(fd: number): number {
  return callOrThrow('fcntl', () => c_fcntl(fd, F_DUPFD_CLOEXEC, 0));
}

/** close(2). Never retried: Linux releases the fd even when close fails with EINTR. */
export function close(fd: number): void {
  if (c_close(fd) < 0) throwErrno('close', koffi.errno());
}

/** close(2) returning 0 or -errno. */
export function tryClose(fd: number): number {
  return c_close(fd) < 0 ? -koffi.errno() : 0;
}

/**
 * read(2) into buf[off, off+len), returning bytes read (0 at EOF) or -errno
 * (e.g. -EAGAIN on a drained non-blocking fd). Out-of-range off/len gives -EFAULT.
 */
export function tryRead(fd: number, buf: Buffer, off: number, len: number): number {
  if (!inRange(buf, off, len)) return -EFAULT;
  const p = off === 0 ? buf : buf.subarray(off);
  return callOrErrno(() => c_read(fd, p, len));
}

/** write(2) from buf[off, off+len), returning bytes written or -errno. Out-of-range off/len gives -EFAULT. */
export function tryWrite(fd: number, buf: Buffer, off: number, len: number): number {
  if (!inRange(buf, off, len)) return -EFAULT;
  const p = off === 0 ? buf : buf.subarray(off);
  return callOrErrno(() => c_write(fd, p, len));
}

// ---------------------------------------------------------------------------
// /dev/fuse ioctls, mount, event-loop readiness

/** FUSE_DEV_IOC_BACKING_OPEN: register `fd` as a passthrough backing file. Returns its id. */
export function fuseBackingOpen(devFd: number, fd: number): number {
  const map = encodeBackingMap(fd);
  return callOrThrow('ioctl', () => c_ioctl(devFd, FUSE_DEV_IOC_BACKING_OPEN, map));
}

/** FUSE_DEV_IOC_BACKING_CLOSE: drop a backing id returned by fuseBackingOpen. */
export function fuseBackingClose(devFd: number, id: number): void {
  const arg = encodeU32(id);
  callOrThrow('ioctl', () => c_ioctl(devFd, FUSE_DEV_IOC_BACKING_CLOSE, arg));
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
  callOrThrow('mount', () => c_mount(s, t, f, flags, d));
}

/** umount2(2). */
export function umount2(target: string, flags: number): void {
  const t = cstr(target, 'umount2');
  callOrThrow('umount2', () => c_umount2(t, flags));
}

/** A descriptor watched by the event loop itself (libuv's poll handle, level-triggered). */
export interface ReadableWatch {
  /** Stops calling back until resume(). */
  pause(): void;
  resume(): void;
  /** Stops watching for good. */
  close(): void;
  /** Whether the watch keeps the event loop (and so the process) alive; it does from the start. */
  keepAlive(keep: boolean): void;
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
    keepAlive: (keep) => (keep ? handle.ref() : handle.unref()),
  };
}

// ---------------------------------------------------------------------------
// stat family

/** fstatat(2). */
export function fstatat(dirfd: number, name: Name, flags: number): Stat {
  const p = cname(name) ?? badName('fstatat');
  callOrThrow('fstatat', () => c_fstatat(dirfd, p, statBuf, flags));
  return decodeStat();
}

/** fstatat(2) into `out`, returning 0 or -errno (for lookups where ENOENT is normal). `out` is untouched on failure. */
export function tryFstatat(dirfd: number, name: Name, flags: number, out: Stat): number {
  const p = cname(name);
  if (p === undefined) return -EINVAL;
  const r = callOrErrno(() => c_fstatat(dirfd, p, statBuf, flags));
  if (r === 0) decodeStatInto(out);
  return r;
}

/** fstat(2). */
export function fstat(fd: number): Stat {
  callOrThrow('fstat', () => c_fstat(fd, statBuf));
  return decodeStat();
}

/** statx(2). `mask` selects the STATX_* fields wanted; the result's `mask` says which were filled. */
export function statx(dirfd: number, name: Name, flags: number, mask: number): StatxResult {
  const p = cname(name) ?? badName('statx');
  callOrThrow('statx', () => c_statx(dirfd, p, flags, mask, statxBuf));
  return decodeStatx();
}

const fh = arch.fileHandle;
/** Room for the largest handle, header included: what `tryNameToHandleAt` needs in `out`. */
export const FILE_HANDLE_BYTES = fh.bytes + MAX_HANDLE_SZ;
const mountIdScratch = Buffer.allocUnsafeSlow(4);

/**
 * name_to_handle_at(2): writes `struct file_handle` (header and handle bytes)
 * into `out`, which must hold FILE_HANDLE_BYTES, and returns the bytes it
 * takes, or -errno (EOPNOTSUPP: the filesystem gives no handles). The handle
 * names the file itself, not the name: it stays valid across renames and turns
 * stale (ESTALE at open_by_handle_at) once the file is gone.
 */
export function tryNameToHandleAt(dirfd: number, name: Name, flags: number, out: Buffer): number {
  if (out.length < FILE_HANDLE_BYTES) return -EINVAL;
  const p = cname(name);
  if (p === undefined) return -EINVAL;
  out.writeUInt32LE(MAX_HANDLE_SZ, fh.fields.handle_bytes.offset);
  const r = callOrErrno(() => c_name_to_handle_at(dirfd, p, out, mountIdScratch, flags));
  return r < 0 ? r : fh.bytes + out.readUInt32LE(fh.fields.handle_bytes.offset);
}

/**
 * open_by_handle_at(2) of a handle `tryNameToHandleAt` wrote (header
 * included), on the filesystem of `mountFd` (a descriptor that is not
 * O_PATH): the new descriptor, or -errno (EPERM without CAP_DAC_READ_SEARCH,
 * ESTALE when the file is gone).
 */
export function tryOpenByHandleAt(mountFd: number, handle: Buffer, flags: number): number {
  if (handle.length < fh.bytes || handle.length < fh.bytes + handle.readUInt32LE(fh.fields.handle_bytes.offset)) return -EINVAL;
  return callOrErrno(() => c_open_by_handle_at(mountFd, handle, flags));
}

/** fstatfs(2). */
export function fstatfs(fd: number): StatFs {
  callOrThrow('fstatfs', () => c_fstatfs(fd, statfsBuf));
  return decodeStatfs();
}

// ---------------------------------------------------------------------------
// Namespace operations

/** mkdirat(2). */
export function mkdirat(dirfd: number, name: Name, mode: number): void {
  const p = cname(name) ?? badName('mkdirat');
  callOrThrow('mkdirat', () => c_mkdirat(dirfd, p, mode));
}

/** mknodat(2). `dev` in glibc's dev_t encoding (see makedev). */
export function mknodat(dirfd: number, name: Name, mode: number, dev: number): void {
  const p = cname(name) ?? badName('mknodat');
  callOrThrow('mknodat', () => c_mknodat(dirfd, p, mode, dev));
}

/** symlinkat(2): create `name` in `dirfd` pointing at `target`. */
export function symlinkat(target: Name, dirfd: number, name: Name): void {
  const t = cname(target) ?? badName('symlinkat');
  const p = cname2(name) ?? badName('symlinkat');
  callOrThrow('symlinkat', () => c_symlinkat(t, dirfd, p));
}

let linkScratch = Buffer.allocUnsafeSlow(4096);

/**
 * readlinkat(2). Returns a fresh Buffer with the exact target bytes. An empty
 * name with an O_PATH fd of a symlink reads that symlink.
 */
export function readlinkat(dirfd: number, name: Name): Buffer {
  const p = cname(name) ?? badName('readlinkat');
  for (;;) {
    const n = callOrThrow('readlinkat', () => c_readlinkat(dirfd, p, linkScratch, linkScratch.length));
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
  callOrThrow('unlinkat', () => c_unlinkat(dirfd, p, flags));
}

/** renameat2(2) with RENAME_NOREPLACE / RENAME_EXCHANGE / RENAME_WHITEOUT flags. */
export function renameat2(olddirfd: number, oldname: Name, newdirfd: number, newname: Name, flags: number): void {
  const a = cname(oldname) ?? badName('renameat2');
  const b = cname2(newname) ?? badName('renameat2');
  callOrThrow('renameat2', () => c_renameat2(olddirfd, a, newdirfd, b, flags));
}

/** linkat(2). */
export function linkat(olddirfd: number, oldname: Name, newdirfd: number, newname: Name, flags: number): void {
  const a = cname(oldname) ?? badName('linkat');
  const b = cname2(newname) ?? badName('linkat');
  callOrThrow('linkat', () => c_linkat(olddirfd, a, newdirfd, b, flags));
}

// ---------------------------------------------------------------------------
// Attributes

/** fchmod(2). */
export function fchmod(fd: number, mode: number): void {
  callOrThrow('fchmod', () => c_fchmod(fd, mode));
}

/** faccessat(2) (with AT_EACCESS: checked with the effective ids, ACLs included): 0 or -errno. */
export function tryFaccessat(dirfd: number, name: Name, mode: number, flags: number): number {
  const p = cname(name);
  if (p === undefined) return -EINVAL;
  return callOrErrno(() => c_faccessat(dirfd, p, mode, flags));
}

/** fchmodat(2). */
export function fchmodat(dirfd: number, name: Name, mode: number, flags: number): void {
  const p = cname(name) ?? badName('fchmodat');
  callOrThrow('fchmodat', () => c_fchmodat(dirfd, p, mode, flags));
}

/** fchmodat2(2) (Linux 6.6+; ENOSYS before). With AT_EMPTY_PATH and "" it changes the file `dirfd` names, O_PATH included. */
export function fchmodat2(dirfd: number, name: Name, mode: number, flags: number): void {
  const p = cname(name) ?? badName('fchmodat2');
  callOrThrow('fchmodat2', () => c_sys_fchmodat2(arch.syscalls.fchmodat2, dirfd, p, mode, flags));
}

/** fchown(2). -1 leaves uid or gid unchanged. */
export function fchown(fd: number, uid: number, gid: number): void {
  callOrThrow('fchown', () => c_fchown(fd, uid | 0, gid | 0));
}

/** fchownat(2). -1 leaves uid or gid unchanged. */
export function fchownat(dirfd: number, name: Name, uid: number, gid: number, flags: number): void {
  const p = cname(name) ?? badName('fchownat');
  callOrThrow('fchownat', () => c_fchownat(dirfd, p, uid | 0, gid | 0, flags));
}

/**
 * utimensat(2). `nsec` may be UTIME_NOW or UTIME_OMIT. A null name acts on
 * dirfd itself (the raw syscall's semantics).
 */
export function utimensat(dirfd: number, name: Name | null, atime: Timespec, mtime: Timespec, flags: number): void {
  const p = name === null ? null : (cname(name) ?? badName('utimensat'));
  const times = encodeTimes(atime, mtime);
  callOrThrow('utimensat', () =>
    p === null ? c_sys_utimensat(arch.syscalls.utimensat, dirfd, null, times, flags) : c_utimensat(dirfd, p, times, flags));
}

/** futimens(2). `nsec` may be UTIME_NOW or UTIME_OMIT. */
export function futimens(fd: number, atime: Timespec, mtime: Timespec): void {
  const times = encodeTimes(atime, mtime);
  callOrThrow('futimens', () => c_futimens(fd, times));
}

/** ftruncate(2). */
export function ftruncate(fd: number, len: number): void {
  callOrThrow('ftruncate', () => c_ftruncate(fd, len));
}

/** truncate(2). */
export function truncate(path: Name, len: number): void {
  const p = cname(path) ?? badName('truncate');
  callOrThrow('truncate', () => c_truncate(p, len));
}

/** fallocate(2) with FALLOC_FL_* mode bits. */
export function fallocate(fd: number, mode: number, offset: number, len: number): void {
  callOrThrow('fallocate', () => c_fallocate(fd, mode, offset, len));
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
  const pIn = encodeOffIn(offIn);
  const pOut = encodeOffOut(offOut);
  return callOrThrow('copy_file_range', () => c_copy_file_range(fdIn, pIn, fdOut, pOut, len, flags));
}

/**
 * lseek(2), including SEEK_DATA/SEEK_HOLE (ENXIO past the last data). Returns
 * the new offset. `offset` may be a bigint, for directory cookies (d_off) that
 * exceed 2^53; the returned offset is a number and then loses precision.
 */
export function lseek(fd: number, offset: number | bigint, whence: number): number {
  return callOrThrow('lseek', () => Number(c_lseek(fd, offset, whence)));
}

// ---------------------------------------------------------------------------
// Directories

/** getdents64(2) into buf. Returns bytes filled, 0 at the end of the directory. */
export function getdents64(fd: number, buf: Buffer): number {
  return callOrThrow('getdents64', () => c_getdents64(fd, buf, buf.length));
}

const dirent = arch.dirent64.fields;
// The shortest record: the fixed part and the name's NUL.
const DIRENT_MIN_RECLEN = dirent.d_name.offset + 1;
// The kernel pads each record to a multiple of this.
const DIRENT_ALIGN = 8;

/**
 * Walks the linux_dirent64 records in buf[start, len) (d_ino, d_off,
 * d_reclen, d_type, then the NUL-terminated name, where arch.ts says).
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
  while (pos + dirent.d_name.offset < end) {
    const reclen = readUint(buf, pos, dirent.d_reclen);
    const next = pos + reclen;
    if (reclen < DIRENT_MIN_RECLEN || next > end) break; // malformed; never loop or read past the data
    const name = pos + dirent.d_name.offset;
    // reclen is the name's end + 1 rounded up to DIRENT_ALIGN, so the NUL lies
    // in the last DIRENT_ALIGN bytes; bytes after it are not cleared by the
    // kernel, so scan forward.
    let nul = Math.max(name, next - DIRENT_ALIGN);
    while (nul < next && buf[nul] !== 0) nul++;
    const off = buf.readBigInt64LE(pos + dirent.d_off.offset);
    if (visit(readUint(buf, pos, dirent.d_ino), off, readUint(buf, pos, dirent.d_type), buf.subarray(name, nul)) === false) return pos;
    pos = next;
  }
  return pos;
}

// ---------------------------------------------------------------------------
// Extended attributes. A null or empty buffer asks for the size needed.

/**
 * getxattr(2) returning the value's size (the size needed if buf is
 * null/empty) or -errno: ENODATA is the usual answer (the kernel probes
 * security.capability before writes).
 */
export function tryGetxattr(path: Name, name: Name, buf: Buffer | null): number {
  const p = cname(path);
  const k = cname2(name);
  if (p === undefined || k === undefined) return -EINVAL;
  const b = sizeQueryOrNull(buf);
  return callOrErrno(() => c_getxattr(p, k, b, b === null ? 0 : b.length));
}

/** fgetxattr(2) returning the size or -errno, like tryGetxattr. */
export function tryFgetxattr(fd: number, name: Name, buf: Buffer | null): number {
  const k = cname2(name);
  if (k === undefined) return -EINVAL;
  const b = sizeQueryOrNull(buf);
  return callOrErrno(() => c_fgetxattr(fd, k, b, b === null ? 0 : b.length));
}

/** setxattr(2) with XATTR_CREATE / XATTR_REPLACE flags. */
export function setxattr(path: Name, name: Name, value: Buffer, flags: number): void {
  const p = cname(path) ?? badName('setxattr');
  const k = cname2(name) ?? badName('setxattr');
  callOrThrow('setxattr', () => c_setxattr(p, k, value, value.length, flags));
}

/** fsetxattr(2). */
export function fsetxattr(fd: number, name: Name, value: Buffer, flags: number): void {
  const k = cname2(name) ?? badName('fsetxattr');
  callOrThrow('fsetxattr', () => c_fsetxattr(fd, k, value, value.length, flags));
}

/** listxattr(2): NUL-separated names. Returns bytes used (or needed, if buf is null/empty). */
export function listxattr(path: Name, buf: Buffer | null): number {
  const p = cname(path) ?? badName('listxattr');
  const b = sizeQueryOrNull(buf);
  return callOrThrow('listxattr', () => c_listxattr(p, b, b === null ? 0 : b.length));
}

/** flistxattr(2). */
export function flistxattr(fd: number, buf: Buffer | null): number {
  const b = sizeQueryOrNull(buf);
  return callOrThrow('flistxattr', () => c_flistxattr(fd, b, b === null ? 0 : b.length));
}

/** removexattr(2). */
export function removexattr(path: Name, name: Name): void {
  const p = cname(path) ?? badName('removexattr');
  const k = cname2(name) ?? badName('removexattr');
  callOrThrow('removexattr', () => c_removexattr(p, k));
}

/** fremovexattr(2). */
export function fremovexattr(fd: number, name: Name): void {
  const k = cname2(name) ?? badName('fremovexattr');
  callOrThrow('fremovexattr', () => c_fremovexattr(fd, k));
}

// ---------------------------------------------------------------------------
// Credentials and limits

/** geteuid(2). */
export function geteuid(): number {
  return c_geteuid();
}

/** getegid(2). */
export function getegid(): number {
  return c_getegid();
}

const rlim = arch.rlimit;

/** The process's open-descriptor limit: { soft, hard }. */
export function getNofileLimit(): { soft: number; hard: number } {
  const b = Buffer.alloc(rlim.bytes);
  if (c_getrlimit(RLIMIT_NOFILE, b) !== 0) throwErrno('getrlimit');
  return { soft: Number(b.readBigUInt64LE(rlim.fields.rlim_cur.offset)), hard: Number(b.readBigUInt64LE(rlim.fields.rlim_max.offset)) };
}

/** Sets both the soft and hard descriptor limit (raising the hard one needs CAP_SYS_RESOURCE). */
export function setNofileLimit(soft: number, hard: number): void {
  const b = Buffer.alloc(rlim.bytes);
  b.writeBigUInt64LE(BigInt(soft), rlim.fields.rlim_cur.offset);
  b.writeBigUInt64LE(BigInt(hard), rlim.fields.rlim_max.offset);
  if (c_setrlimit(RLIMIT_NOFILE, b) !== 0) throwErrno('setrlimit');
}

// ---------------------------------------------------------------------------
// Extended attributes of a path's link itself (no descriptor needed)

const c_lgetxattr = bind<(path: CStr, name: CStr, buf: Ptr, size: number) => number>(
  'intptr_t lgetxattr(const char *, const char *, void *, size_t)',
);
const c_lsetxattr = bind<(path: CStr, name: CStr, value: Ptr, size: number, flags: number) => number>(
  'int lsetxattr(const char *, const char *, const void *, size_t, int)',
);
const c_llistxattr = bind<(path: CStr, buf: Ptr, size: number) => number>(
  'intptr_t llistxattr(const char *, void *, size_t)',
);
const c_lremovexattr = bind<(path: CStr, name: CStr) => number>('int lremovexattr(const char *, const char *)');

/** lgetxattr(2): getxattr without following a final symlink. */
export function lgetxattr(path: Name, name: Name, buf: Buffer | null): number {
  const p = cname(path) ?? badName('lgetxattr');
  const k = cname2(name) ?? badName('lgetxattr');
  const b = sizeQueryOrNull(buf);
  return callOrThrow('lgetxattr', () => c_lgetxattr(p, k, b, b === null ? 0 : b.length));
}

/** lsetxattr(2). */
export function lsetxattr(path: Name, name: Name, value: Buffer, flags: number): void {
  const p = cname(path) ?? badName('lsetxattr');
  const k = cname2(name) ?? badName('lsetxattr');
  callOrThrow('lsetxattr', () => c_lsetxattr(p, k, value, value.length, flags));
}

/** llistxattr(2). */
export function llistxattr(path: Name, buf: Buffer | null): number {
  const p = cname(path) ?? badName('llistxattr');
  const b = sizeQueryOrNull(buf);
  return callOrThrow('llistxattr', () => c_llistxattr(p, b, b === null ? 0 : b.length));
}

/** lremovexattr(2). */
export function lremovexattr(path: Name, name: Name): void {
  const p = cname(path) ?? badName('lremovexattr');
  const k = cname2(name) ?? badName('lremovexattr');
  callOrThrow('lremovexattr', () => c_lremovexattr(p, k));
}
