/**
 * `fusekit/fuse-native`: a drop-in replacement for the `fuse-native` 2.x
 * package, served by fusekit (no libfuse, no compiler).
 *
 * ```js
 * const Fuse = require('fusekit/fuse-native')   // or: import Fuse from 'fusekit/fuse-native'
 * const fuse = new Fuse('/mnt/x', { getattr (path, cb) { ... }, readdir (path, cb) { ... } }, { debug: false })
 * fuse.mount(err => { ... })
 * ```
 *
 * The class has fuse-native's constructor, `mount(cb)`, `unmount(cb)`, the
 * static `Fuse.unmount(mnt, cb)`, `isConfigured`/`configure`/`unconfigure`
 * (harmless on Linux), the errno constants (`Fuse.ENOENT === -2`) and every
 * operation with fuse-native's arguments and callback shapes. It is a thin
 * adapter above the path layer (src/path), which keeps the node table.
 *
 * Where fuse-native's own behaviour is a bug, this follows the kernel's
 * rules instead:
 *
 * - `utimens(path, atime, mtime, cb)` gets the real mtime (fuse-native passes
 *   the atime twice), and a time the caller leaves unchanged (UTIME_OMIT)
 *   arrives as the file's current one, not as 1.07 s past the epoch.
 * - `fgetattr(path, fd, cb)` is called for fstat(2) when implemented
 *   (fuse-native calls `getattr` instead).
 * - Sizes, offsets and statfs counts above 2^32 are passed whole (fuse-native
 *   truncates statfs fields to 32 bits).
 * - An operation that throws fails that request with EIO and logs the error
 *   once, instead of killing the process.
 * - `.` and `..` are always listed (libfuse only lists what `readdir` gives).
 *
 * `fsync(path, datasync, fd, cb)` and `fsyncdir` take fuse-native's real
 * argument order (its README shows `fd` before `datasync`, but its code passes
 * `datasync` first, and programs were written against the code).
 */
import * as nodefs from 'node:fs';
import * as nodepath from 'node:path';
import { constants as osConstants } from 'node:os';
import { Errno } from '../fs/errors.js';
import { Fopen } from '../abi/constants.js';
import type { StatfsOut, OpenReply } from '../fs/filesystem.js';
import type { Timespec } from '../abi/types.js';
import { mountPaths } from '../path/mount.js';
import type { PathMount, PathMountOptions } from '../path/mount.js';
import type { PathAttr, PathDirent, PathFilesystem, PathResult } from '../path/filesystem.js';
import { isMounted } from '../transport/mount.js';
import { forceUnmount, unmountAt } from '../session/mount.js';
import { umount2 } from '../sys/index.js';
import { MNT_DETACH } from '../sys/constants.js';

const E = osConstants.errno;
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const DEFAULT_TIMEOUT_MS = 15_000;

/**
 * A fuse-native callback: `cb(err)`, `cb(err, value)`, `cb(bytesOrErrno)`;
 * `err` is 0/null for success, a negative errno (`Fuse.ENOENT`) or an Error
 * with an errno `code`.
 */
export type FuseCallback = (...results: unknown[]) => void;

/** A stat object as fuse-native takes it (times as Date or milliseconds; missing times are "now"). */
export interface FuseStat {
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  dev?: number;
  nlink?: number;
  ino?: number;
  rdev?: number;
  blksize?: number;
  blocks?: number;
  atime?: Date | number;
  mtime?: Date | number;
  ctime?: Date | number;
}

/** fuse-native's statfs object. */
export interface FuseStatfs {
  bsize?: number;
  frsize?: number;
  blocks?: number;
  bfree?: number;
  bavail?: number;
  files?: number;
  ffree?: number;
  favail?: number;
  fsid?: number;
  flag?: number;
  namemax?: number;
}

/** The operations a fuse-native program implements; all optional. */
export interface FuseOperations {
  init?(cb: FuseCallback): void;
  error?(cb: FuseCallback): void;
  access?(path: string, mode: number, cb: FuseCallback): void;
  statfs?(path: string, cb: FuseCallback): void;
  getattr?(path: string, cb: FuseCallback): void;
  fgetattr?(path: string, fd: number, cb: FuseCallback): void;
  flush?(path: string, fd: number, cb: FuseCallback): void;
  fsync?(path: string, datasync: number, fd: number, cb: FuseCallback): void;
  fsyncdir?(path: string, datasync: number, fd: number, cb: FuseCallback): void;
  readdir?(path: string, cb: FuseCallback): void;
  truncate?(path: string, size: number, cb: FuseCallback): void;
  ftruncate?(path: string, fd: number, size: number, cb: FuseCallback): void;
  utimens?(path: string, atime: number, mtime: number, cb: FuseCallback): void;
  readlink?(path: string, cb: FuseCallback): void;
  chown?(path: string, uid: number, gid: number, cb: FuseCallback): void;
  chmod?(path: string, mode: number, cb: FuseCallback): void;
  mknod?(path: string, mode: number, dev: number, cb: FuseCallback): void;
  setxattr?(path: string, name: string, value: Buffer, position: number, flags: number, cb: FuseCallback): void;
  getxattr?(path: string, name: string, position: number, cb: FuseCallback): void;
  listxattr?(path: string, cb: FuseCallback): void;
  removexattr?(path: string, name: string, cb: FuseCallback): void;
  open?(path: string, flags: number, cb: FuseCallback): void;
  opendir?(path: string, flags: number, cb: FuseCallback): void;
  read?(path: string, fd: number, buffer: Buffer, length: number, position: number, cb: FuseCallback): void;
  write?(path: string, fd: number, buffer: Buffer, length: number, position: number, cb: FuseCallback): void;
  release?(path: string, fd: number, cb: FuseCallback): void;
  releasedir?(path: string, fd: number, cb: FuseCallback): void;
  create?(path: string, mode: number, cb: FuseCallback): void;
  unlink?(path: string, cb: FuseCallback): void;
  rename?(src: string, dest: string, cb: FuseCallback): void;
  link?(src: string, dest: string, cb: FuseCallback): void;
  symlink?(src: string, dest: string, cb: FuseCallback): void;
  mkdir?(path: string, mode: number, cb: FuseCallback): void;
  rmdir?(path: string, cb: FuseCallback): void;
}

/**
 * fuse-native's options (its own, and libfuse's `-o` options in camelCase).
 * What each does here:
 *
 * - `mkdir`: create the mountpoint if missing. `force`: unmount a dead FUSE
 *   mount left at the mountpoint first.
 * - `debug` (or `DEBUG=fuse-bindings`): one line per request and reply on stderr.
 * - `allowOther`, `defaultPermissions`, `maxRead`, `fsname` (mount source),
 *   `subtype`: as for libfuse. `allowRoot`: the server runs as root, so only
 *   root and the owner get in anyway (the default).
 * - `autoUnmount`: unmount when the process exits.
 * - `uid`, `gid`, `umask` (a number, or a string read as octal as libfuse
 *   reads it): override owner, group and permission bits in every
 *   attribute reply, as libfuse does.
 * - `entryTimeout`, `attrTimeout` (seconds, default 1): kernel caching.
 *   `kernelCache`: keep file data cached across opens (FOPEN_KEEP_CACHE).
 * - `timeout` (ms, default 15000; `false` for none; or `{ default, [op]: ms }`):
 *   an operation whose callback has not come by then fails with ETIMEDOUT.
 * - `hardRemove`: a file unlinked while open keeps no name (paths of its
 *   handles are then `null`); by default it is renamed to `.fuse_hidden…`
 *   until its last release, as libfuse 2 (under fuse-native) does.
 * - `nonempty`: allow mounting over a non-empty directory (libfuse refuses).
 * - `displayFolder`, `name`, `autoCache`, `acAttrTimeout`, `noforget`,
 *   `remember`, `modules`, `blkdev`, `blksize`, `userId`: macOS-only or
 *   libfuse-internal; accepted and ignored. `fd` is not supported (an error).
 */
export interface FuseOptions {
  mkdir?: boolean;
  force?: boolean;
  debug?: boolean;
  displayFolder?: boolean | string;
  name?: string;
  allowOther?: boolean;
  allowRoot?: boolean;
  autoUnmount?: boolean;
  defaultPermissions?: boolean;
  blkdev?: boolean;
  blksize?: number;
  maxRead?: number;
  fd?: number;
  userId?: number;
  fsname?: string;
  subtype?: string;
  kernelCache?: boolean;
  autoCache?: boolean;
  umask?: number | string;
  uid?: number;
  gid?: number;
  entryTimeout?: number;
  attrTimeout?: number;
  acAttrTimeout?: number;
  noforget?: boolean;
  remember?: number;
  modules?: string;
  timeout?: number | false | ({ default?: number } & Record<string, number | false | undefined>);
  hardRemove?: boolean;
  nonempty?: boolean;
}

/** Positive errno of a fuse-native error value: a negative number, or an Error with a code; 0 for success. */
function errnoOf(err: unknown): number {
  if (err === null || err === undefined || err === 0 || err === false) return 0;
  if (typeof err === 'number') return err < 0 ? -err : 0;
  if (typeof err === 'object') {
    const e = err as { code?: unknown; errno?: unknown };
    if (typeof e.code === 'string' && (E as Record<string, number>)[e.code] !== undefined) return (E as Record<string, number>)[e.code]!;
    if (typeof e.errno === 'number' && e.errno !== 0) return Math.abs(e.errno);
  }
  return E.EIO;
}

function ms(t: Date | number | undefined): number {
  if (typeof t === 'number') return t;
  if (t instanceof Date) return t.getTime();
  return Date.now();
}

/** The `umask` option as a number: fuse-native hands a string to libfuse, which reads it as octal. */
function umaskOf(v: number | string | undefined): number {
  if (typeof v === 'string') return Number.parseInt(v, 8) || 0;
  return v ?? 0;
}

/** Whether `DEBUG` asks for fuse-native's debug output. */
function debugFromEnv(): boolean {
  return /\*|(^|,)fuse-bindings(,|$)/.test(process.env['DEBUG'] ?? '');
}

function timespecMs(t: Timespec): number {
  return t.sec * 1000 + Math.floor(t.nsec / 1e6);
}

/**
 * fuse-native's `Fuse`. `new Fuse(mnt, ops, opts)`, then `mount(cb)` and
 * `unmount(cb)`.
 */
export class Fuse {
  /** The absolute mountpoint. */
  readonly mnt: string;
  readonly ops: FuseOperations;
  readonly opts: FuseOptions;
  /** The mount while mounted. */
  private mounted: PathMount | undefined;
  private mounting: Promise<void> | undefined;
  /** fuse-native's errno constants, negative: `Fuse.ENOENT === -2` (set below from ERRNO_NAMES). */
  declare static readonly EPERM: number;
  declare static readonly ENOENT: number;
  declare static readonly ESRCH: number;
  declare static readonly EINTR: number;
  declare static readonly EIO: number;
  declare static readonly ENXIO: number;
  declare static readonly E2BIG: number;
  declare static readonly ENOEXEC: number;
  declare static readonly EBADF: number;
  declare static readonly ECHILD: number;
  declare static readonly EAGAIN: number;
  declare static readonly ENOMEM: number;
  declare static readonly EACCES: number;
  declare static readonly EFAULT: number;
  declare static readonly ENOTBLK: number;
  declare static readonly EBUSY: number;
  declare static readonly EEXIST: number;
  declare static readonly EXDEV: number;
  declare static readonly ENODEV: number;
  declare static readonly ENOTDIR: number;
  declare static readonly EISDIR: number;
  declare static readonly EINVAL: number;
  declare static readonly ENFILE: number;
  declare static readonly EMFILE: number;
  declare static readonly ENOTTY: number;
  declare static readonly ETXTBSY: number;
  declare static readonly EFBIG: number;
  declare static readonly ENOSPC: number;
  declare static readonly ESPIPE: number;
  declare static readonly EROFS: number;
  declare static readonly EMLINK: number;
  declare static readonly EPIPE: number;
  declare static readonly EDOM: number;
  declare static readonly ERANGE: number;
  declare static readonly EDEADLK: number;
  declare static readonly ENAMETOOLONG: number;
  declare static readonly ENOLCK: number;
  declare static readonly ENOSYS: number;
  declare static readonly ENOTEMPTY: number;
  declare static readonly ELOOP: number;
  declare static readonly EWOULDBLOCK: number;
  declare static readonly ENOMSG: number;
  declare static readonly EIDRM: number;
  declare static readonly ECHRNG: number;
  declare static readonly EL2NSYNC: number;
  declare static readonly EL3HLT: number;
  declare static readonly EL3RST: number;
  declare static readonly ELNRNG: number;
  declare static readonly EUNATCH: number;
  declare static readonly ENOCSI: number;
  declare static readonly EL2HLT: number;
  declare static readonly EBADE: number;
  declare static readonly EBADR: number;
  declare static readonly EXFULL: number;
  declare static readonly ENOANO: number;
  declare static readonly EBADRQC: number;
  declare static readonly EBADSLT: number;
  declare static readonly EDEADLOCK: number;
  declare static readonly EBFONT: number;
  declare static readonly ENOSTR: number;
  declare static readonly ENODATA: number;
  declare static readonly ETIME: number;
  declare static readonly ENOSR: number;
  declare static readonly ENONET: number;
  declare static readonly ENOPKG: number;
  declare static readonly EREMOTE: number;
  declare static readonly ENOLINK: number;
  declare static readonly EADV: number;
  declare static readonly ESRMNT: number;
  declare static readonly ECOMM: number;
  declare static readonly EPROTO: number;
  declare static readonly EMULTIHOP: number;
  declare static readonly EDOTDOT: number;
  declare static readonly EBADMSG: number;
  declare static readonly EOVERFLOW: number;
  declare static readonly ENOTUNIQ: number;
  declare static readonly EBADFD: number;
  declare static readonly EREMCHG: number;
  declare static readonly ELIBACC: number;
  declare static readonly ELIBBAD: number;
  declare static readonly ELIBSCN: number;
  declare static readonly ELIBMAX: number;
  declare static readonly ELIBEXEC: number;
  declare static readonly EILSEQ: number;
  declare static readonly ERESTART: number;
  declare static readonly ESTRPIPE: number;
  declare static readonly EUSERS: number;
  declare static readonly ENOTSOCK: number;
  declare static readonly EDESTADDRREQ: number;
  declare static readonly EMSGSIZE: number;
  declare static readonly EPROTOTYPE: number;
  declare static readonly ENOPROTOOPT: number;
  declare static readonly EPROTONOSUPPORT: number;
  declare static readonly ESOCKTNOSUPPORT: number;
  declare static readonly EOPNOTSUPP: number;
  declare static readonly EPFNOSUPPORT: number;
  declare static readonly EAFNOSUPPORT: number;
  declare static readonly EADDRINUSE: number;
  declare static readonly EADDRNOTAVAIL: number;
  declare static readonly ENETDOWN: number;
  declare static readonly ENETUNREACH: number;
  declare static readonly ENETRESET: number;
  declare static readonly ECONNABORTED: number;
  declare static readonly ECONNRESET: number;
  declare static readonly ENOBUFS: number;
  declare static readonly EISCONN: number;
  declare static readonly ENOTCONN: number;
  declare static readonly ESHUTDOWN: number;
  declare static readonly ETOOMANYREFS: number;
  declare static readonly ETIMEDOUT: number;
  declare static readonly ECONNREFUSED: number;
  declare static readonly EHOSTDOWN: number;
  declare static readonly EHOSTUNREACH: number;
  declare static readonly EALREADY: number;
  declare static readonly EINPROGRESS: number;
  declare static readonly ESTALE: number;
  declare static readonly EUCLEAN: number;
  declare static readonly ENOTNAM: number;
  declare static readonly ENAVAIL: number;
  declare static readonly EISNAM: number;
  declare static readonly EREMOTEIO: number;
  declare static readonly EDQUOT: number;
  declare static readonly ENOMEDIUM: number;
  declare static readonly EMEDIUMTYPE: number;

  /** Unmounted once: as in fuse-native, an instance mounts only once (make a new one to mount again). */
  private closed = false;
  private exitHook: (() => void) | undefined;

  constructor(mnt: string, ops: FuseOperations, opts: FuseOptions = {}) {
    this.mnt = nodepath.resolve(mnt);
    this.ops = ops ?? {};
    this.opts = opts ?? {};
  }

  /** Mounts; `cb(err)` once the kernel has completed INIT, or with why not. */
  mount(cb?: (err: Error | null) => void): void {
    const done = cb ?? (() => undefined);
    if (this.mounted) {
      process.nextTick(done, null);
      return;
    }
    if (this.closed) {
      process.nextTick(done, new Error('Resource is closed: make a new Fuse to mount again'));
      return;
    }
    this.mounting ??= this.doMount().finally(() => {
      this.mounting = undefined;
    });
    this.mounting.then(() => done(null), (err: Error) => done(err));
  }

  /**
   * Detaches the mount at once, as fuse-native's `fusermount -uz` does, and
   * calls `cb(err)` then: files still open on it keep being served while the
   * program runs, and the session ends when the last of them is closed. As in
   * fuse-native, the mount no longer keeps Node running: a program that
   * still holds a file on it can exit (the connection is then aborted).
   */
  unmount(cb?: (err: Error | null) => void): void {
    const done = cb ?? (() => undefined);
    const m = this.mounted;
    this.closed = true;
    if (!m) {
      process.nextTick(done, null);
      return;
    }
    void m.ended.then(() => {
      if (this.mounted === m) this.forgetMount();
    });
    unmountAt(m.mountpoint, { lazy: true }).then(
      () => {
        m.unref();
        done(null);
      },
      (err: Error) => done(err),
    );
  }

  /** fuse-native's name-to-errno helper: `fuse.errno('ENOENT') === -2`, -1 when unknown. */
  errno(code: string): number {
    const n = code ? (Fuse as unknown as Record<string, unknown>)[code.toUpperCase()] : undefined;
    return typeof n === 'number' ? n : -1;
  }

  /** Detaches whatever FUSE mount is at `mnt` (lazily, as `fusermount -uz`); `cb(err)`. */
  static unmount(mnt: string, cb?: (err: Error | null) => void): void {
    const done = cb ?? (() => undefined);
    const target = nodepath.resolve(mnt);
    unmountAt(target, { lazy: true }).then(
      () => done(null),
      (err: Error) => done(err),
    );
  }

  /** On Linux FUSE needs no configuring: `cb(null, true)` when /dev/fuse exists. */
  static isConfigured(cb: (err: Error | null, configured: boolean) => void): void {
    process.nextTick(cb, null, nodefs.existsSync('/dev/fuse'));
  }

  /** Nothing to do on Linux. */
  static configure(cb: (err: Error | null) => void): void {
    process.nextTick(cb, null);
  }

  /** Nothing to do on Linux. */
  static unconfigure(cb: (err: Error | null) => void): void {
    process.nextTick(cb, null);
  }

  /** Nothing to do on Linux. */
  static beforeMount(cb: (err: Error | null) => void): void {
    process.nextTick(cb, null);
  }

  /** Nothing to do on Linux. */
  static beforeUnmount(cb: (err: Error | null) => void): void {
    process.nextTick(cb, null);
  }

  private forgetMount(): void {
    this.mounted = undefined;
    if (this.exitHook) {
      process.removeListener('exit', this.exitHook);
      this.exitHook = undefined;
    }
  }

  private async doMount(): Promise<void> {
    const o = this.opts;
    if (o.fd !== undefined) throw new Error('the fd option (a pre-opened /dev/fuse) is not supported');
    let st: nodefs.Stats;
    try {
      st = await nodefs.promises.stat(this.mnt);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTCONN' && o.force) {
        // A dead mount of a server that is gone: detach it, as fuse-native's force does.
        await forceUnmount(this.mnt);
        return this.doMount();
      }
      if (code !== 'ENOENT') throw err;
      if (!o.mkdir) throw new Error('Mountpoint does not exist');
      await nodefs.promises.mkdir(this.mnt, { recursive: true });
      st = await nodefs.promises.stat(this.mnt);
    }
    if (!st.isDirectory()) throw new Error('Mountpoint is not a directory');
    const parent = await nodefs.promises.stat(nodepath.dirname(this.mnt)).catch(() => undefined);
    if (parent && parent.dev !== st.dev && this.mnt !== '/') throw new Error('Mountpoint in use');

    const debug = o.debug || debugFromEnv();
    const options: PathMountOptions = {
      nonEmpty: o.nonempty ?? false,
      allowOther: o.allowOther,
      defaultPermissions: o.defaultPermissions,
      maxRead: o.maxRead,
      source: o.fsname ?? 'fuse-native',
      subtype: o.subtype ?? 'fuse-native',
      entryTimeout: o.entryTimeout ?? 1,
      attrTimeout: o.attrTimeout ?? 1,
      unlinkedOpen: o.hardRemove ? 'keep' : 'hide',
      logger: debug ? { warn: (line: string) => process.stderr.write(`${line}\n`), debug: (line: string) => process.stderr.write(`fuse-native ${line}\n`) } : undefined,
    };
    const m = await mountPaths(this.mnt, new FuseNativeFilesystem(this.ops, o), options);
    this.mounted = m;
    void m.ended.then(() => {
      if (this.mounted === m) this.forgetMount();
    });
    if (o.autoUnmount) {
      const mnt = this.mnt;
      this.exitHook = () => {
        try {
          // At exit nothing asynchronous runs any more: a synchronous detach (it never waits for the server).
          if (isMounted(mnt)) umount2(mnt, MNT_DETACH);
        } catch {
          // Already gone.
        }
      };
      process.once('exit', this.exitHook);
    }
  }
}

/** The errno constants fuse-native has, as negative numbers (`Fuse.ENOENT === -2`). */
const ERRNO_NAMES = [
  'EPERM', 'ENOENT', 'ESRCH', 'EINTR', 'EIO', 'ENXIO', 'E2BIG', 'ENOEXEC', 'EBADF', 'ECHILD', 'EAGAIN', 'ENOMEM',
  'EACCES', 'EFAULT', 'ENOTBLK', 'EBUSY', 'EEXIST', 'EXDEV', 'ENODEV', 'ENOTDIR', 'EISDIR', 'EINVAL', 'ENFILE',
  'EMFILE', 'ENOTTY', 'ETXTBSY', 'EFBIG', 'ENOSPC', 'ESPIPE', 'EROFS', 'EMLINK', 'EPIPE', 'EDOM', 'ERANGE',
  'EDEADLK', 'ENAMETOOLONG', 'ENOLCK', 'ENOSYS', 'ENOTEMPTY', 'ELOOP', 'EWOULDBLOCK', 'ENOMSG', 'EIDRM', 'ECHRNG',
  'EL2NSYNC', 'EL3HLT', 'EL3RST', 'ELNRNG', 'EUNATCH', 'ENOCSI', 'EL2HLT', 'EBADE', 'EBADR', 'EXFULL', 'ENOANO',
  'EBADRQC', 'EBADSLT', 'EDEADLOCK', 'EBFONT', 'ENOSTR', 'ENODATA', 'ETIME', 'ENOSR', 'ENONET', 'ENOPKG', 'EREMOTE',
  'ENOLINK', 'EADV', 'ESRMNT', 'ECOMM', 'EPROTO', 'EMULTIHOP', 'EDOTDOT', 'EBADMSG', 'EOVERFLOW', 'ENOTUNIQ',
  'EBADFD', 'EREMCHG', 'ELIBACC', 'ELIBBAD', 'ELIBSCN', 'ELIBMAX', 'ELIBEXEC', 'EILSEQ', 'ERESTART', 'ESTRPIPE',
  'EUSERS', 'ENOTSOCK', 'EDESTADDRREQ', 'EMSGSIZE', 'EPROTOTYPE', 'ENOPROTOOPT', 'EPROTONOSUPPORT',
  'ESOCKTNOSUPPORT', 'EOPNOTSUPP', 'EPFNOSUPPORT', 'EAFNOSUPPORT', 'EADDRINUSE', 'EADDRNOTAVAIL', 'ENETDOWN',
  'ENETUNREACH', 'ENETRESET', 'ECONNABORTED', 'ECONNRESET', 'ENOBUFS', 'EISCONN', 'ENOTCONN', 'ESHUTDOWN',
  'ETOOMANYREFS', 'ETIMEDOUT', 'ECONNREFUSED', 'EHOSTDOWN', 'EHOSTUNREACH', 'EALREADY', 'EINPROGRESS', 'ESTALE',
  'EUCLEAN', 'ENOTNAM', 'ENAVAIL', 'EISNAM', 'EREMOTEIO', 'EDQUOT', 'ENOMEDIUM', 'EMEDIUMTYPE',
];
// Linux numbers for the names Node does not list (they exist on Linux; os.constants omits a few).
const EXTRA: Record<string, number> = {
  EWOULDBLOCK: 11, EDEADLOCK: 35, ECHRNG: 44, EL2NSYNC: 45, EL3HLT: 46, EL3RST: 47, ELNRNG: 48, EUNATCH: 49,
  ENOCSI: 50, EL2HLT: 51, EBADE: 52, EBADR: 53, EXFULL: 54, ENOANO: 55, EBADRQC: 56, EBADSLT: 57, EBFONT: 59,
  ENONET: 64, ENOPKG: 65, EREMOTE: 66, EADV: 68, ESRMNT: 69, ECOMM: 70, EDOTDOT: 73, ENOTUNIQ: 76, EBADFD: 77,
  EREMCHG: 78, ELIBACC: 79, ELIBBAD: 80, ELIBSCN: 81, ELIBMAX: 82, ELIBEXEC: 83, ERESTART: 85, ESTRPIPE: 86,
  EUSERS: 87, ESOCKTNOSUPPORT: 94, EPFNOSUPPORT: 96, ESHUTDOWN: 108, ETOOMANYREFS: 109, EHOSTDOWN: 112,
  EUCLEAN: 117, ENOTNAM: 118, ENAVAIL: 119, EISNAM: 120, EREMOTEIO: 121, ENOMEDIUM: 123, EMEDIUMTYPE: 124,
};
for (const name of ERRNO_NAMES) {
  const n = (E as Record<string, number | undefined>)[name] ?? EXTRA[name];
  if (n !== undefined) (Fuse as unknown as Record<string, number>)[name] = -n;
}

type Converter<T> = (args: unknown[]) => T | Errno;

/**
 * The path filesystem behind a `Fuse`: each method calls the program's
 * operation with fuse-native's arguments and turns its callback into a value.
 * A callback called at once (as most in-memory filesystems do) answers without
 * a promise or a timer.
 */
class FuseNativeFilesystem implements PathFilesystem {
  private readonly timeouts: FuseOptions['timeout'];

  /** The `umask` option as a number, parsed once (attribute replies apply it). */
  private readonly umask: number;

  constructor(private readonly ops: FuseOperations, private readonly opts: FuseOptions) {
    this.timeouts = opts.timeout;
    this.umask = umaskOf(opts.umask);
    const has = (name: keyof FuseOperations) => typeof ops[name] === 'function';
    // Only what the program implements is offered: the rest keeps the kernel's defaults (ENOSYS).
    const methods: Array<keyof FuseOperations> = [
      'init', 'access', 'statfs', 'readlink', 'mknod', 'mkdir', 'symlink', 'unlink', 'rmdir', 'rename', 'link',
      'chmod', 'chown', 'truncate', 'utimens', 'open', 'create', 'read', 'write', 'flush', 'release', 'fsync', 'opendir',
      'readdir', 'releasedir', 'fsyncdir', 'setxattr', 'getxattr', 'listxattr', 'removexattr',
    ];
    for (const name of methods) {
      // An own property shadows the prototype's method: the path layer then sees none.
      if (name === 'truncate' ? !(has('truncate') || has('ftruncate')) : !has(name)) (this as unknown as Record<string, unknown>)[name] = undefined;
    }
  }

  private timeoutFor(op: string): number {
    const t = this.timeouts;
    if (t === false || t === 0) return 0;
    if (t === undefined) return DEFAULT_TIMEOUT_MS;
    if (typeof t === 'number') return t;
    const v = t[op];
    if (v === false) return 0;
    return v || t.default || DEFAULT_TIMEOUT_MS;
  }

  /** Calls `ops[op](...args, cb)` and converts the callback's arguments. */
  private call<T>(op: keyof FuseOperations, args: unknown[], convert: Converter<T>): PathResult<T> {
    const fn = this.ops[op] as unknown as (...a: unknown[]) => void;
    let done = false;
    let value: T | Errno | undefined;
    let settle: ((v: T | Errno) => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    const cb = (...results: unknown[]) => {
      if (done) return;
      done = true;
      let v: T | Errno;
      try {
        v = convert(results);
      } catch {
        v = Errno.of(E.EIO);
      }
      if (timer) clearTimeout(timer);
      if (settle) settle(v);
      else value = v;
    };
    fn.call(this.ops, ...args, cb);
    if (done) return value as T | Errno;
    return new Promise<T | Errno>((resolve) => {
      settle = resolve;
      const ms = this.timeoutFor(op);
      if (ms > 0) {
        timer = setTimeout(() => {
          if (done) return;
          done = true;
          resolve(Errno.of(E.ETIMEDOUT));
        }, ms);
      }
    });
  }

  // ---- conversions ----

  private attrOf(st: FuseStat | undefined): PathAttr {
    const s = st ?? {};
    let mode = s.mode ?? 0;
    const o = this.opts;
    if (this.umask) mode = (mode & S_IFMT) | (0o777 & ~this.umask);
    return {
      mode,
      uid: o.uid ? o.uid : s.uid ?? 0,
      gid: o.gid ? o.gid : s.gid ?? 0,
      size: s.size ?? 0,
      nlink: s.nlink || 1,
      // libfuse 2 (without use_ino, which fuse-native cannot ask for) numbers
      // inodes itself: a stat object reused for several files must not make
      // them one file to `cmp`, `cp -a` or `tar`.
      ino: 0,
      rdev: s.rdev ?? 0,
      blksize: s.blksize ?? 0,
      blocks: s.blocks ?? 0,
      atime: ms(s.atime),
      mtime: ms(s.mtime),
      ctime: ms(s.ctime),
    };
  }

  private readonly status: Converter<void> = (r) => {
    const e = errnoOf(r[0]);
    return e ? Errno.of(e) : undefined;
  };

  private readonly statValue: Converter<PathAttr> = (r) => {
    const e = errnoOf(r[0]);
    return e ? Errno.of(e) : this.attrOf(r[1] as FuseStat);
  };

  private readonly fdValue: Converter<number> = (r) => {
    const e = errnoOf(r[0]);
    if (e) return Errno.of(e);
    const fd = r[1];
    return typeof fd === 'number' ? fd : 0;
  };

  // ---- PathFilesystem ----

  init(): void | Promise<void> {
    const r = this.call('init', [], this.status);
    if (r instanceof Errno) throw r;
    if (r instanceof Promise) {
      return r.then((v) => {
        if (v instanceof Errno) throw v;
      });
    }
  }

  getattr(path: string | null, fh: number | undefined): PathResult<PathAttr> {
    if (path === null) return Errno.of(E.ENOENT);
    if (fh !== undefined && this.ops.fgetattr) return this.call('fgetattr', [path, fh], this.statValue);
    if (!this.ops.getattr) {
      return path === '/' ? this.attrOf({ mode: S_IFDIR | 0o755, size: 4096, atime: 0, mtime: 0, ctime: 0 }) : Errno.of(E.EPERM);
    }
    return this.call('getattr', [path], this.statValue);
  }

  access(path: string, mask: number): PathResult<void> {
    return this.call('access', [path, mask], this.status);
  }

  statfs(path: string): PathResult<StatfsOut> {
    return this.call('statfs', [path], (r) => {
      const e = errnoOf(r[0]);
      if (e) return Errno.of(e);
      const s = (r[1] ?? {}) as FuseStatfs;
      return {
        bsize: s.bsize ?? 0, frsize: s.frsize ?? 0, blocks: s.blocks ?? 0, bfree: s.bfree ?? 0, bavail: s.bavail ?? 0,
        files: s.files ?? 0, ffree: s.ffree ?? 0, namelen: s.namemax ?? 255,
      };
    });
  }

  readlink(path: string): PathResult<string | Buffer> {
    return this.call('readlink', [path], (r) => {
      const e = errnoOf(r[0]);
      if (e) return Errno.of(e);
      const target = r[1];
      return Buffer.isBuffer(target) ? target : String(target ?? '');
    });
  }

  mknod(path: string, mode: number, rdev: number): PathResult<void> {
    return this.call('mknod', [path, mode, rdev], this.status);
  }

  mkdir(path: string, mode: number): PathResult<void> {
    return this.call('mkdir', [path, mode], this.status);
  }

  symlink(target: string, path: string): PathResult<void> {
    return this.call('symlink', [target, path], this.status);
  }

  unlink(path: string): PathResult<void> {
    return this.call('unlink', [path], this.status);
  }

  rmdir(path: string): PathResult<void> {
    return this.call('rmdir', [path], this.status);
  }

  rename(from: string, to: string, flags: number): PathResult<void> {
    // fuse-native has no rename flags (libfuse 2 answers ENOSYS, which the kernel turns into EINVAL).
    if (flags !== 0) return Errno.of(E.ENOSYS);
    return this.call('rename', [from, to], this.status);
  }

  link(existing: string | null, path: string): PathResult<void> {
    if (existing === null) return Errno.of(E.ENOENT);
    return this.call('link', [existing, path], this.status);
  }

  chmod(path: string | null, mode: number): PathResult<void> {
    if (path === null) return Errno.of(E.ENOENT);
    return this.call('chmod', [path, mode], this.status);
  }

  chown(path: string | null, uid: number, gid: number): PathResult<void> {
    if (path === null) return Errno.of(E.ENOENT);
    // -1 (unchanged) arrives as fuse-native passed it: an unsigned 32-bit id.
    return this.call('chown', [path, uid >>> 0, gid >>> 0], this.status);
  }

  truncate(path: string | null, size: number, fh: number | undefined): PathResult<void> {
    if (path === null) return Errno.of(E.ENOENT);
    if (fh !== undefined && this.ops.ftruncate) return this.call('ftruncate', [path, fh, size], this.status);
    if (!this.ops.truncate) return Errno.of(E.ENOSYS);
    return this.call('truncate', [path, size], this.status);
  }

  utimens(path: string | null, atime: Timespec | undefined, mtime: Timespec | undefined): PathResult<void> {
    if (path === null) return Errno.of(E.ENOENT);
    if (atime && mtime) return this.call('utimens', [path, timespecMs(atime), timespecMs(mtime)], this.status);
    // One time left unchanged: pass the file's current one.
    const cur = this.getattr(path, undefined);
    const go = (a: PathAttr | Errno): PathResult<void> => {
      if (a instanceof Errno) return a;
      const keep = (t: unknown) => (typeof t === 'number' ? t : Date.now());
      return this.call('utimens', [path, atime ? timespecMs(atime) : keep(a.atime), mtime ? timespecMs(mtime) : keep(a.mtime)], this.status);
    };
    return cur instanceof Promise ? cur.then(go) : go(cur);
  }

  open(path: string, flags: number): PathResult<number | OpenReply> {
    const r = this.call('open', [path, flags], this.fdValue);
    return this.opts.kernelCache ? this.keepCache(r) : r;
  }

  private keepCache(r: PathResult<number>): PathResult<OpenReply> {
    const wrap = (v: number | Errno): OpenReply | Errno => (v instanceof Errno ? v : { fh: v, openFlags: Fopen.KEEP_CACHE });
    return r instanceof Promise ? r.then(wrap) : wrap(r);
  }

  create(path: string, mode: number): PathResult<number | OpenReply> {
    const r = this.call('create', [path, mode], this.fdValue);
    return this.opts.kernelCache ? this.keepCache(r) : r;
  }

  read(path: string | null, fh: number, dest: Buffer, offset: number): PathResult<number> {
    return this.call('read', [path, fh, dest, dest.length, offset], countValue);
  }

  write(path: string | null, fh: number, data: Buffer, offset: number): PathResult<number> {
    return this.call('write', [path, fh, data, data.length, offset], countValue);
  }

  flush(path: string | null, fh: number): PathResult<void> {
    return this.call('flush', [path, fh], this.status);
  }

  release(path: string | null, fh: number): PathResult<void> {
    return this.call('release', [path, fh], this.status);
  }

  fsync(path: string | null, fh: number, datasync: boolean): PathResult<void> {
    return this.call('fsync', [path, datasync ? 1 : 0, fh], this.status);
  }

  opendir(path: string, flags: number): PathResult<number> {
    return this.call('opendir', [path, flags], this.fdValue);
  }

  readdir(path: string): PathResult<(string | PathDirent)[]> {
    return this.call('readdir', [path], (r) => {
      const e = errnoOf(r[0]);
      if (e) return Errno.of(e);
      const names = (r[1] ?? []) as unknown[];
      const stats = r[2] as FuseStat[] | undefined;
      // As fuse-native: stats count only when there is one per name.
      const withStats = Array.isArray(stats) && stats.length === names.length;
      if (!withStats) return names.every((n) => typeof n === 'string') ? (names as string[]) : names.map(String);
      return names.map((name, i) => ({ name: String(name), attr: this.attrOf(stats[i]) }));
    });
  }

  releasedir(path: string | null, fh: number): PathResult<void> {
    return this.call('releasedir', [path, fh], this.status);
  }

  fsyncdir(path: string | null, fh: number, datasync: boolean): PathResult<void> {
    return this.call('fsyncdir', [path, datasync ? 1 : 0, fh], this.status);
  }

  setxattr(path: string | null, name: string, value: Buffer, flags: number): PathResult<void> {
    if (path === null) return Errno.of(E.ENOENT);
    return this.call('setxattr', [path, name, value, 0, flags], this.status);
  }

  getxattr(path: string | null, name: string): PathResult<Buffer> {
    if (path === null) return Errno.of(E.ENOENT);
    return this.call('getxattr', [path, name, 0], (r) => {
      const e = errnoOf(r[0]);
      if (e) return Errno.of(e);
      const v = r[1];
      if (v === null || v === undefined) return Errno.of(E.ENODATA);
      return Buffer.isBuffer(v) ? v : Buffer.from(String(v));
    });
  }

  listxattr(path: string | null): PathResult<string[]> {
    if (path === null) return Errno.of(E.ENOENT);
    return this.call('listxattr', [path], (r) => {
      const e = errnoOf(r[0]);
      if (e) return Errno.of(e);
      return ((r[1] ?? []) as unknown[]).map(String);
    });
  }

  removexattr(path: string | null, name: string): PathResult<void> {
    if (path === null) return Errno.of(E.ENOENT);
    return this.call('removexattr', [path, name], this.status);
  }
}

/** read/write: `cb(bytes)` or `cb(-errno)`. */
const countValue: Converter<number> = (r) => {
  const n = r[0];
  if (typeof n === 'number') return n < 0 ? Errno.of(-n) : n;
  const e = errnoOf(n);
  return e ? Errno.of(e) : 0;
};

export default Fuse;
// `require('fusekit/fuse-native')` returns the class itself, as fuse-native's did.
export { Fuse as 'module.exports' };
