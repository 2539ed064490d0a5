/**
 * # Filesystems by path
 *
 * `PathFilesystem` is the interface for people who think in paths:
 * `getattr('/a/b')`, `readdir('/a')`, `read('/a/b', fh, buf, offset)`. It is
 * the model of libfuse's high-level library and of every Node FUSE package
 * before fusekit. `mountPaths()` turns it into an inode-level `Filesystem`
 * (see src/fs/filesystem.ts for the kernel's model) and mounts it; fusekit
 * keeps the table between paths and the kernel's node ids.
 *
 * ```ts
 * import { mountPaths, Errno, S_IFDIR, S_IFREG } from 'fusekit';
 * const hello = Buffer.from('hello\n');
 * await mountPaths('/mnt/hello', {
 *   getattr: (path) =>
 *     path === '/' ? { mode: S_IFDIR | 0o755 }
 *     : path === '/hello' ? { mode: S_IFREG | 0o444, size: hello.length }
 *     : Errno.of('ENOENT'),
 *   readdir: (path) => (path === '/' ? ['hello'] : Errno.of('ENOTDIR')),
 *   read: (_path, _fh, dest, offset) => hello.copy(dest, 0, offset),
 * });
 * ```
 *
 * ## Rules
 *
 * - Every method is optional; a missing one answers ENOSYS (with the
 *   kernel's fallback where it has one), except those documented otherwise.
 * - Methods return a value, an `Errno` (for routine failures: no Error is
 *   built), or a promise of either; they may throw a `FuseError` or any
 *   error with an errno `code` (Node's fs errors work as they are). Anything
 *   else answers EIO and is logged once per cause.
 * - Paths are absolute within the mount, start with `/`, and never end in `/`
 *   (except the root itself). Names are UTF-8 strings. A name whose bytes
 *   are not valid UTF-8 never reaches the filesystem (as a string it would
 *   read as U+FFFD, and two different names as one): looked up, removed or
 *   renamed it is ENOENT, as a new name (create, mkdir, link, a rename's
 *   target, a symlink or its target) EILSEQ.
 *
 * ## What fusekit keeps for you
 *
 * - **Nodes.** Each path the kernel knows gets a node id; lookup counts,
 *   FORGET, renames of files and of whole subtrees (and RENAME_EXCHANGE) move
 *   the table along, so later requests see the new paths.
 * - **Hard links** are one node with several names: after `link`, and
 *   whenever `getattr` gives a non-zero `ino` and `nlink > 1` that matches a
 *   node already known, on the same `dev` if given (so give real, stable
 *   `ino`s if you have hard links).
 *   A node's requests use one of its names.
 * - **Unlinked while open.** By default (`unlinkedOpen: 'keep'`) a file
 *   removed while open keeps its node, without a name: operations on its open
 *   handles still arrive, with `path` `null`, so serve them by `fh`. This is
 *   what a local filesystem does: no name appears in the directory, `rmdir` of
 *   the parent works, and nothing is renamed behind your back. The
 *   alternative, `unlinkedOpen: 'hide'`, is libfuse's: the file is renamed to
 *   `.fuse_hidden…` in the same directory and removed at its last release, so
 *   a filesystem that serves open files by path keeps working, at the price of
 *   a visible name and a parent that cannot be removed meanwhile (the
 *   fuse-native entry point uses it, since fuse-native programs rely on it).
 * - **Renames against operations in flight.** A node's path is computed when
 *   a request starts, and stays right until it ends: an operation holds a
 *   shared lock on its node and every ancestor; `rename`, `unlink` and `rmdir`
 *   take an exclusive lock on the node they move or remove (and on the node
 *   they replace), so they wait until the operations under it finish, and
 *   operations that arrive meanwhile wait for them and then see the new path.
 *   Operations on unrelated paths run at once. This is libfuse's tree lock; it
 *   costs nothing while no rename is waiting or running.
 * - **Directory listings.** `readdir` is called once per listing (when a
 *   directory handle reads from offset 0); fusekit keeps the result for that
 *   open handle and hands it out in pieces, so offsets (`telldir`/`seekdir`)
 *   stay valid while the directory changes, no entry is listed twice and none
 *   that was there throughout is skipped. `.` and `..` are added by fusekit.
 *   The listing is encoded into the kernel's records once, when its first
 *   READDIR comes, and each READDIR copies a run of them (as libfuse does);
 *   d_ino is the entry's `ino`, or else the node id of a name the kernel has
 *   looked up, or else unknown (0xffffffff). A directory's last encoded
 *   listing of plain names is kept after its handle closes (up to 8 MiB in
 *   all), and a new listing with the same names reuses it.
 * - **READDIRPLUS.** With `readdirPlus: true` on the filesystem, entries that
 *   come with attributes are handed to the kernel with them (one round trip
 *   fills the kernel's cache for a whole listing, so `ls -l` sends no LOOKUP);
 *   entries without attributes go as names only. Leave it off when listings
 *   are mostly read by name only (`ls`, `find -name`): plain READDIR packs
 *   about five times more entries per reply.
 * - **Caching.** Names and attributes are cached by the kernel for
 *   `entryTimeout` and `attrTimeout` seconds (mount options, default 1 s, as
 *   libfuse), or per reply through the `entryTimeout`/`attrTimeout` fields of
 *   a `PathAttr`. "No such file" is not cached unless `negativeTimeout` is set
 *   (default 0). Changes made through the mount are always seen at once;
 *   changes made behind the mount's back show after the timeouts.
 * - **Passthrough.** `open` and `create` may return an `OpenReply` with
 *   `backing: { fd }` or `backing: { path }`; mount with `passthrough` and the
 *   kernel reads and writes that file itself, through the same arbiter as the
 *   inode API (see `OpenReply`).
 */
import type { Errno } from '../fs/errors.js';
import type { InitInfo, OpenReply, RequestContext, StatfsOut } from '../fs/filesystem.js';
import type { Timespec } from '../abi/types.js';

/** The context of a creating operation: the caller's umask, when the filesystem asked for DONT_MASK (else 0). */
export interface CreateContext extends RequestContext {
  /** The caller's umask under DONT_MASK, else 0 (the kernel has applied it). */
  readonly umask: number;
}

/** A result: the value, an Errno, or a promise of either. */
export type PathResult<T> = T | Errno | Promise<T | Errno>;

/** A time as a Date, milliseconds since the epoch, or exact seconds and nanoseconds. */
export type PathTime = Date | number | Timespec;

/**
 * What `getattr` returns: the fields of stat(2). Only `mode` (type and
 * permission bits) is required. Defaults: owner and group this process's,
 * `nlink` 1 (2 for a directory), `blksize` 4096, `blocks` from the size,
 * times the epoch, the rest 0. Node's `fs.Stats` and `fs.BigIntStats` fit as
 * they are.
 */
export interface PathAttr {
  /** S_IFMT type bits plus permission bits. */
  mode: number | bigint;
  /** Size in bytes (default 0). */
  size?: number | bigint;
  /** Hard links (default 1, 2 for a directory). */
  nlink?: number | bigint;
  /** Owner (default: this process's user). */
  uid?: number | bigint;
  /** Group (default: this process's group). */
  gid?: number | bigint;
  /** Device number of a device node (default 0). */
  rdev?: number | bigint;
  /** Preferred I/O size (default 4096). */
  blksize?: number | bigint;
  /** 512-byte blocks allocated (default: from the size). */
  blocks?: number | bigint;
  /**
   * Shown as st_ino when non-zero (else the node id is). Stable inode numbers
   * also let fusekit recognise a hard link reached by another name.
   */
  ino?: number | bigint;
  /** The device `ino` belongs to, when several share the tree (as in `fs.Stats`); only compared, never shown. */
  dev?: number | bigint;
  /** Last access. */
  atime?: PathTime;
  /** Last change of the content. */
  mtime?: PathTime;
  /** Last change of the inode. */
  ctime?: PathTime;
  /** Exact times (as `fs.BigIntStats` has them) win over the Date fields. */
  atimeNs?: bigint;
  /** mtime in nanoseconds since the epoch, when exactness matters (overrides `mtime`). */
  mtimeNs?: bigint;
  /** ctime in nanoseconds since the epoch (overrides `ctime`). */
  ctimeNs?: bigint;
  /** Seconds the kernel may cache these attributes; default: the mount's `attrTimeout`. */
  attrTimeout?: number;
  /** Seconds the kernel may cache the name that led here; default: the mount's `entryTimeout`. */
  entryTimeout?: number;
}

/** A directory entry: a name, optionally with its attributes (used for READDIRPLUS, and for d_type and d_ino). */
export interface PathDirent {
  /** The entry's name in the directory. */
  name: string;
  /** Its attributes, when cheap to give: the listing then fills the kernel's cache (READDIRPLUS). */
  attr?: PathAttr;
}

/** What `open`, `create` and `opendir` return: a file handle, or a full reply (passthrough, FOPEN flags). Nothing means handle 0. */
export type PathOpenResult = OpenReply | number | void;

/**
 * The path-level filesystem interface. `ctx` says who asked (`uid`, `gid`,
 * `pid`) and carries `signal`, which aborts when the caller is interrupted.
 * Operations on an open file get its `fh` and, for a file unlinked while open
 * (with `unlinkedOpen: 'keep'`), a `null` path.
 */
export interface PathFilesystem {
  /** Set when `readdir` returns attributes with its entries as cheaply as names: listings then use READDIRPLUS. */
  readonly readdirPlus?: boolean;
  /**
   * INIT capabilities to ask for (`InitFlag` bits), as `Filesystem.initFlags`.
   * For example POSIX_ACL (the kernel enforces ACLs read through getxattr) or
   * DONT_MASK (the kernel leaves the caller's umask to you: creating
   * operations then find it in `ctx.umask`).
   */
  readonly initFlags?: bigint;

  /** After INIT is negotiated, before any other request. */
  init?(info: InitInfo): void | Promise<void>;
  /** The session is ending. */
  destroy?(): void | Promise<void>;

  /**
   * stat(2). Called for every LOOKUP (the kernel's first sight of a name) and
   * GETATTR. `fh` is set for fstat(2) of an open file. ENOENT is routine:
   * return `Errno.of('ENOENT')`. Required: without it only the root exists.
   */
  getattr?(path: string | null, fh: number | undefined, ctx: RequestContext): PathResult<PathAttr>;
  /** The target of a symlink. */
  readlink?(path: string, ctx: RequestContext): PathResult<string | Buffer>;
  /** Create a file, FIFO, socket or device node. May return its attributes (saves a getattr). */
  mknod?(path: string, mode: number, rdev: number, ctx: CreateContext): PathResult<PathAttr | void>;
  /** `mode`: permission bits, as the kernel sends them (the caller's umask applied, unless DONT_MASK). */
  mkdir?(path: string, mode: number, ctx: CreateContext): PathResult<PathAttr | void>;
  /** Create `path` as a symlink to `target`. */
  symlink?(target: string, path: string, ctx: RequestContext): PathResult<PathAttr | void>;
  /** unlink(2): remove a name that is not a directory. */
  unlink?(path: string, ctx: RequestContext): PathResult<void>;
  /** rmdir(2): remove an empty directory. */
  rmdir?(path: string, ctx: RequestContext): PathResult<void>;
  /**
   * rename(2)/renameat2(2): `flags` may hold RENAME_NOREPLACE (1),
   * RENAME_EXCHANGE (2) or RENAME_WHITEOUT (4). ENOSYS or EINVAL for flags you
   * do not support.
   */
  rename?(from: string, to: string, flags: number, ctx: RequestContext): PathResult<void>;
  /**
   * Hard link: a second name `path` for `existing`. `existing` is null for a
   * file that has no name (made by `tmpfile`, or unlinked while open); `fh` is
   * then one of its open handles.
   */
  link?(existing: string | null, path: string, fh: number | undefined, ctx: RequestContext): PathResult<PathAttr | void>;

  /** chmod(2); `mode` holds the file type bits too, as the kernel sends it. */
  chmod?(path: string | null, mode: number, fh: number | undefined, ctx: RequestContext): PathResult<void>;
  /** chown(2); -1 leaves that id unchanged. */
  chown?(path: string | null, uid: number, gid: number, fh: number | undefined, ctx: RequestContext): PathResult<void>;
  /** truncate(2) or, with `fh`, ftruncate(2). */
  truncate?(path: string | null, size: number, fh: number | undefined, ctx: RequestContext): PathResult<void>;
  /** utimensat(2): "now" arrives resolved to the current time; `undefined` leaves that time unchanged. */
  utimens?(path: string | null, atime: Timespec | undefined, mtime: Timespec | undefined, fh: number | undefined, ctx: RequestContext): PathResult<void>;

  /**
   * open(2) of a non-directory, with its O_* flags. Missing: every open
   * succeeds with handle 0 (and no `release` is called), and an O_TRUNC
   * open arrives as `truncate(path, 0, undefined)`. O_TRUNC is done as
   * libfuse 2 did it: `truncate(path, 0, fh)` right after a successful open
   * (a failed truncate releases the handle and fails the open; without
   * `truncate` such an open fails with EIO, logged), unless `initFlags` has
   * `InitFlag.ATOMIC_O_TRUNC`: then open must truncate itself.
   */
  open?(path: string, flags: number, ctx: RequestContext): PathResult<PathOpenResult>;
  /** open(O_CREAT) of a new regular file. Missing: the kernel uses `mknod` and then `open`. */
  create?(path: string, mode: number, flags: number, ctx: CreateContext): PathResult<PathOpenResult>;
  /**
   * open(O_TMPFILE) in directory `dir`: a new file without a name, which
   * `getattr(null, fh)` describes and `link(null, path, fh)` may name later.
   * Missing: EOPNOTSUPP.
   */
  tmpfile?(dir: string, mode: number, flags: number, ctx: CreateContext): PathResult<PathOpenResult>;
  /** Read into `dest` (its length is the size asked for) from `offset`: return the count, or your own bytes. Short means end of file. */
  read?(path: string | null, fh: number, dest: Buffer, offset: number, ctx: RequestContext): PathResult<number | Uint8Array>;
  /** Write `data` at `offset`; return the count. `data` is valid only until the result settles. */
  write?(path: string | null, fh: number, data: Buffer, offset: number, ctx: RequestContext): PathResult<number>;
  /** Every close(2) of a descriptor. */
  flush?(path: string | null, fh: number, ctx: RequestContext): PathResult<void>;
  /** The last close of an open file. */
  release?(path: string | null, fh: number, flags: number, ctx: RequestContext): PathResult<void>;
  /** fsync/fdatasync (`datasync`) of an open file. */
  fsync?(path: string | null, fh: number, datasync: boolean, ctx: RequestContext): PathResult<void>;
  /** fallocate(2) `mode` bits (FALLOC_FL_*). */
  fallocate?(path: string | null, fh: number, mode: number, offset: number, length: number, ctx: RequestContext): PathResult<void>;
  /** SEEK_DATA (3) and SEEK_HOLE (4) only: the kernel does the rest. Missing: the whole file is data. */
  lseek?(path: string | null, fh: number, offset: number, whence: number, ctx: RequestContext): PathResult<number>;
  /** Missing: the kernel copies through read and write. */
  copyFileRange?(pathIn: string | null, fhIn: number, offsetIn: number, pathOut: string | null, fhOut: number, offsetOut: number, length: number, ctx: RequestContext): PathResult<number>;

  /** Missing: every opendir succeeds with handle 0. */
  opendir?(path: string, flags: number, ctx: RequestContext): PathResult<PathOpenResult>;
  /**
   * The whole listing, without `.` and `..`, as names or `PathDirent`s
   * (attributes give d_type, and fill the kernel's cache with READDIRPLUS).
   * Called once per listing; see "Directory listings" above.
   */
  readdir?(path: string, fh: number, ctx: RequestContext): PathResult<Iterable<string | PathDirent>>;
  /** The last close of a directory opened by `opendir`. */
  releasedir?(path: string | null, fh: number, ctx: RequestContext): PathResult<void>;
  /** fsync of an open directory. */
  fsyncdir?(path: string | null, fh: number, datasync: boolean, ctx: RequestContext): PathResult<void>;

  /** statfs(2). Missing: zeros, with 255 as the longest name. */
  statfs?(path: string, ctx: RequestContext): PathResult<StatfsOut>;
  /** access(2): R_OK 4, W_OK 2, X_OK 1 in `mask`. Missing: always allowed. Not called with `defaultPermissions`. */
  access?(path: string, mask: number, ctx: RequestContext): PathResult<void>;
  /**
   * `flags`: XATTR_CREATE (1), XATTR_REPLACE (2). `system.posix_acl_access`
   * and `system.posix_acl_default` arrive here too: answer EOPNOTSUPP unless
   * the filesystem enforces ACLs, or `cp -a` and `mv`, which copy
   * permissions as an ACL when they can, leave files at their creation mode.
   */
  setxattr?(path: string | null, name: string, value: Buffer, flags: number, ctx: RequestContext): PathResult<void>;
  /** The value; ENODATA when the attribute is not set. fusekit answers size probes and ERANGE. */
  getxattr?(path: string | null, name: string, ctx: RequestContext): PathResult<Buffer>;
  /** The names of the extended attributes; fusekit NUL-terminates them and answers size probes. */
  listxattr?(path: string | null, ctx: RequestContext): PathResult<(string | Buffer)[]>;
  /** removexattr(2). */
  removexattr?(path: string | null, name: string, ctx: RequestContext): PathResult<void>;
}
