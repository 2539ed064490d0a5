/**
 * Numbers of the FUSE kernel protocol 7.45: opcodes, flag bits, struct sizes.
 *
 * Flag sets are plain `as const` objects (not TS enums) so that they erase to
 * ordinary objects, can be iterated for logging, and combine with `|`.
 * INIT capability flags are bigint because the set is 64 bits wide
 * (`flags` holds bits 0-31, `flags2` bits 32-63).
 */

import { ROOT_ID } from './types.js';

export { ROOT_ID };

// ---- Protocol version ----

export const KERNEL_VERSION = 7;
/** The newest minor this codec speaks (Linux 6.18). */
export const KERNEL_MINOR_VERSION = 45;
/** The oldest minor fusekit negotiates down to (passthrough-era kernels are all far newer). */
export const MIN_SUPPORTED_MINOR = 31;

// ---- Opcodes ----

/** `enum fuse_opcode`. 7 and 19 are unused numbers. */
export const Opcode = {
  LOOKUP: 1,
  FORGET: 2,
  GETATTR: 3,
  SETATTR: 4,
  READLINK: 5,
  SYMLINK: 6,
  MKNOD: 8,
  MKDIR: 9,
  UNLINK: 10,
  RMDIR: 11,
  RENAME: 12,
  LINK: 13,
  OPEN: 14,
  READ: 15,
  WRITE: 16,
  STATFS: 17,
  RELEASE: 18,
  FSYNC: 20,
  SETXATTR: 21,
  GETXATTR: 22,
  LISTXATTR: 23,
  REMOVEXATTR: 24,
  FLUSH: 25,
  INIT: 26,
  OPENDIR: 27,
  READDIR: 28,
  RELEASEDIR: 29,
  FSYNCDIR: 30,
  GETLK: 31,
  SETLK: 32,
  SETLKW: 33,
  ACCESS: 34,
  CREATE: 35,
  INTERRUPT: 36,
  BMAP: 37,
  DESTROY: 38,
  IOCTL: 39,
  POLL: 40,
  NOTIFY_REPLY: 41,
  BATCH_FORGET: 42,
  FALLOCATE: 43,
  READDIRPLUS: 44,
  RENAME2: 45,
  LSEEK: 46,
  COPY_FILE_RANGE: 47,
  SETUPMAPPING: 48,
  REMOVEMAPPING: 49,
  SYNCFS: 50,
  TMPFILE: 51,
  STATX: 52,
  COPY_FILE_RANGE_64: 53,
  CUSE_INIT: 4096,
} as const;

export type OpcodeName = keyof typeof Opcode;

const opcodeNames = new Map<number, string>(Object.entries(Opcode).map(([name, op]) => [op, name]));

/** The opcode's name for logs ("LOOKUP"), or "OPCODE_<n>" for a number the protocol does not define. */
export function opcodeName(op: number): string {
  return opcodeNames.get(op) ?? `OPCODE_${op}`;
}

// ---- INIT capability flags (fuse_init_in/out flags | flags2 << 32) ----

/**
 * Capability bits, 64 wide. Bits 32+ travel in `flags2`, which the kernel reads
 * from a reply only when that reply's `flags` has INIT_EXT.
 *
 * Bit 2 (FILE_OPS, never implemented) and bit 31 (INIT_RESERVED) have no entry:
 * nobody may set them, so they get no name a caller could pass around.
 * `initFlagNames` shows them as BIT_2 / BIT_31 if a peer ever sends them.
 */
export const InitFlag = {
  /** The kernel may send several READs of one file at once (parallel readahead). Asked for by default. */
  ASYNC_READ: 1n << 0n,
  /**
   * POSIX byte-range locks (fcntl) go to the filesystem as GETLK/SETLK; without
   * it the kernel keeps them locally. Asked for when the filesystem implements
   * getlk and setlk.
   */
  POSIX_LOCKS: 1n << 1n,
  /** O_TRUNC reaches OPEN in its flags and the filesystem truncates; without it the kernel sends a SETATTR of size 0 after the open. Asked for by default. */
  ATOMIC_O_TRUNC: 1n << 3n,
  /** The filesystem answers LOOKUP of "." and "..", so the mount can be exported over NFS. */
  EXPORT_SUPPORT: 1n << 4n,
  /** WRITE requests may be larger than 4 KiB, up to max_write. Asked for by default. */
  BIG_WRITES: 1n << 5n,
  /** The kernel leaves the caller's umask unapplied in MKNOD, MKDIR, CREATE and TMPFILE; the filesystem gets it in `umask`. */
  DONT_MASK: 1n << 6n,
  /** The device accepts replies written with splice(2) (fusekit does not use it). */
  SPLICE_WRITE: 1n << 7n,
  /** The device may move spliced pages instead of copying them (fusekit does not use it). */
  SPLICE_MOVE: 1n << 8n,
  /** Requests may be read from the device with splice(2) (fusekit does not use it). */
  SPLICE_READ: 1n << 9n,
  /** flock(2) locks go to the filesystem as SETLK with LK_FLOCK; without it the kernel keeps them locally. */
  FLOCK_LOCKS: 1n << 10n,
  /** ioctl(2) on directories is sent too. */
  HAS_IOCTL_DIR: 1n << 11n,
  /** The kernel drops a file's cached pages when fresh attributes show a new mtime or size. Asked for by default. */
  AUTO_INVAL_DATA: 1n << 12n,
  /** Listings may use READDIRPLUS, which returns each entry with its attributes. Asked for when the filesystem implements readdirplus. */
  DO_READDIRPLUS: 1n << 13n,
  /** The kernel picks READDIR or READDIRPLUS per listing (plus only when the entries get looked up). Asked for with DO_READDIRPLUS. */
  READDIRPLUS_AUTO: 1n << 14n,
  /** The pieces of one direct-I/O call are sent in parallel. Asked for by default. */
  ASYNC_DIO: 1n << 15n,
  /**
   * Writes are cached in the kernel and written back later. It switches
   * passthrough off for the whole connection, so fusekit drops it when
   * passthrough is granted.
   */
  WRITEBACK_CACHE: 1n << 16n,
  /** The kernel takes ENOSYS from OPEN as "no open needed": later opens succeed without a request. */
  NO_OPEN_SUPPORT: 1n << 17n,
  /** LOOKUP and READDIR in one directory may run in parallel. Asked for by default. */
  PARALLEL_DIROPS: 1n << 18n,
  /**
   * The filesystem clears set-user-ID and set-group-ID bits and
   * security.capability itself on write, chown and truncate (first version; see
   * HANDLE_KILLPRIV_V2).
   */
  HANDLE_KILLPRIV: 1n << 19n,
  /** The kernel enforces POSIX ACLs (the system.posix_acl_* xattrs) with default_permissions and applies default ACLs to new inodes. */
  POSIX_ACL: 1n << 20n,
  /** Reading an aborted connection fails with ECONNABORTED instead of ENODEV. */
  ABORT_ERROR: 1n << 21n,
  /** INIT's max_pages sets the largest request, beyond the old 32 pages. Asked for by default. */
  MAX_PAGES: 1n << 22n,
  /** The kernel caches symlink targets in its page cache. */
  CACHE_SYMLINKS: 1n << 23n,
  /** The kernel takes ENOSYS from OPENDIR as "no opendir needed": later opendirs succeed without a request. */
  NO_OPENDIR_SUPPORT: 1n << 24n,
  /** Cached data is dropped only when the filesystem asks (inode invalidation), never because attributes changed. */
  EXPLICIT_INVAL_DATA: 1n << 25n,
  /** INIT's map_alignment is valid (DAX mappings, virtiofs). */
  MAP_ALIGNMENT: 1n << 26n,
  /** Directories may be marked as submounts (virtiofs). */
  SUBMOUNTS: 1n << 27n,
  /**
   * The filesystem clears set-user-ID and set-group-ID bits itself where the
   * kernel flags it (WriteFlag.KILL_SUIDGID, Fattr.KILL_SUIDGID,
   * OPEN_KILL_SUIDGID), sparing a security.capability lookup per write.
   */
  HANDLE_KILLPRIV_V2: 1n << 28n,
  /** SETXATTR carries setxattr_flags (the 16-byte fuse_setxattr_in). Asked for by default. */
  SETXATTR_EXT: 1n << 29n,
  /** The INIT flags go on in flags2 (bits 32 and up). Asked for by default. */
  INIT_EXT: 1n << 30n,
  /** Requests that create an inode carry the security contexts to label it with (`RequestExtensions.secctx`). */
  SECURITY_CTX: 1n << 32n,
  /** DAX may be switched per inode (virtiofs). */
  HAS_INODE_DAX: 1n << 33n,
  /** Requests that create an inode carry the caller's supplementary group that matches the parent directory's group (`RequestExtensions.suppGroups`). */
  CREATE_SUPP_GROUP: 1n << 34n,
  /** An entry invalidation may carry EXPIRE_ONLY: mark the name stale instead of dropping it. */
  HAS_EXPIRE_ONLY: 1n << 35n,
  /** Shared mmap is allowed on files opened with FOPEN_DIRECT_IO. Asked for by default. */
  DIRECT_IO_ALLOW_MMAP: 1n << 36n,
  /**
   * Opens may be answered FOPEN_PASSTHROUGH with a backing id: reads, writes
   * and mmap then go straight to the backing file (Linux 6.9+). Asked for when
   * passthrough is configured.
   */
  PASSTHROUGH: 1n << 37n,
  /** The filesystem refuses NFS export. */
  NO_EXPORT_SUPPORT: 1n << 38n,
  /** The filesystem may ask the kernel to resend pending requests; a resent request has bit 63 set in its id. */
  HAS_RESEND: 1n << 39n,
  /** The mount may be idmapped. */
  ALLOW_IDMAP: 1n << 40n,
  /** Requests may travel over io_uring instead of the device read (fusekit reads the device). */
  OVER_IO_URING: 1n << 41n,
  /**
   * INIT's request_timeout is honoured: the kernel aborts the connection when a
   * request stays unanswered that many seconds. Asked for when
   * `SessionOptions.kernelRequestTimeout` is set.
   */
  REQUEST_TIMEOUT: 1n << 42n,
} as const;

export type InitFlagName = keyof typeof InitFlag;

/**
 * The protocol minor that introduced each INIT flag. Where the exact minor is
 * uncertain the latest plausible one is used (ASYNC_READ: 6, the 7.9 trio: 9),
 * so a check `minor >= since` never claims a flag too early.
 */
export const INIT_FLAG_SINCE_MINOR: Record<InitFlagName, number> = {
  ASYNC_READ: 6,
  POSIX_LOCKS: 7,
  ATOMIC_O_TRUNC: 9,
  EXPORT_SUPPORT: 9,
  BIG_WRITES: 9,
  DONT_MASK: 12,
  SPLICE_WRITE: 14,
  SPLICE_MOVE: 14,
  SPLICE_READ: 14,
  FLOCK_LOCKS: 17,
  HAS_IOCTL_DIR: 18,
  AUTO_INVAL_DATA: 20,
  DO_READDIRPLUS: 21,
  READDIRPLUS_AUTO: 21,
  ASYNC_DIO: 22,
  WRITEBACK_CACHE: 23,
  NO_OPEN_SUPPORT: 23,
  PARALLEL_DIROPS: 25,
  HANDLE_KILLPRIV: 26,
  POSIX_ACL: 26,
  ABORT_ERROR: 27,
  MAX_PAGES: 28,
  CACHE_SYMLINKS: 28,
  NO_OPENDIR_SUPPORT: 29,
  EXPLICIT_INVAL_DATA: 30,
  MAP_ALIGNMENT: 31,
  SUBMOUNTS: 32,
  HANDLE_KILLPRIV_V2: 33,
  SETXATTR_EXT: 33,
  INIT_EXT: 36,
  SECURITY_CTX: 36,
  HAS_INODE_DAX: 36,
  CREATE_SUPP_GROUP: 38,
  HAS_EXPIRE_ONLY: 38,
  DIRECT_IO_ALLOW_MMAP: 39,
  PASSTHROUGH: 40,
  NO_EXPORT_SUPPORT: 40,
  HAS_RESEND: 40,
  ALLOW_IDMAP: 41,
  OVER_IO_URING: 42,
  REQUEST_TIMEOUT: 43,
};

const initFlagByBit: (string | undefined)[] = [];
for (const [name, bit] of Object.entries(InitFlag)) {
  initFlagByBit[bitIndex(bit)] = name;
}

function bitIndex(bit: bigint): number {
  let i = 0;
  while (bit > 1n) {
    bit >>= 1n;
    i++;
  }
  return i;
}

/** Names of the set bits, lowest first; bits without a name show as "BIT_<n>". For logging. */
export function initFlagNames(flags: bigint): string[] {
  const names: string[] = [];
  for (let i = 0; i < 64; i++) {
    if ((flags >> BigInt(i)) & 1n) names.push(initFlagByBit[i] ?? `BIT_${i}`);
  }
  return names;
}

// ---- Per-reply and per-request flag sets ----

/** `fuse_open_out.open_flags` (FOPEN_*). */
export const Fopen = {
  /** No page cache for this open: every read and write is a request. */
  DIRECT_IO: 1,
  /** Keep the file's cached pages from earlier opens (with PASSTHROUGH the open fails with EIO). */
  KEEP_CACHE: 2,
  /** The file has no seekable position: pread, pwrite and lseek fail with ESPIPE. */
  NONSEEKABLE: 4,
  /** Opendir: the kernel may keep the listing in its page cache. */
  CACHE_DIR: 8,
  /** The file is a stream: no file position at all. */
  STREAM: 16,
  /** close(2) sends no FLUSH. */
  NOFLUSH: 32,
  /** Direct-I/O writes to this file may run in parallel. */
  PARALLEL_DIRECT_WRITES: 64,
  /** Reads, writes and mmap go straight to the backing file named by the reply's backing id. */
  PASSTHROUGH: 128,
} as const;

/** `fuse_setattr_in.valid` (FATTR_*): which fields of the request are meaningful. */
export const Fattr = {
  /** `mode` is set: chmod. */
  MODE: 1 << 0,
  /** `uid` is set: chown. */
  UID: 1 << 1,
  /** `gid` is set: chown or chgrp. */
  GID: 1 << 2,
  /** `size` is set: truncate. */
  SIZE: 1 << 3,
  /** `atime` is set. */
  ATIME: 1 << 4,
  /** `mtime` is set. */
  MTIME: 1 << 5,
  /** `fh` is set: the change came through an open file. */
  FH: 1 << 6,
  /** Set the access time to now, not to `atime`. */
  ATIME_NOW: 1 << 7,
  /** Set the modification time to now, not to `mtime`. */
  MTIME_NOW: 1 << 8,
  /** `lockOwner` is set. */
  LOCKOWNER: 1 << 9,
  /** `ctime` is set. */
  CTIME: 1 << 10,
  /** Clear set-user-ID and set-group-ID bits as well (HANDLE_KILLPRIV_V2). */
  KILL_SUIDGID: 1 << 11,
} as const;

/** `fuse_getattr_in.getattr_flags`: `fh` is valid (the call was fstat). */
export const GETATTR_FH = 1;

/** `fuse_read_in.read_flags`. */
export const ReadFlag = {
  /** `lockOwner` is set. */
  LOCKOWNER: 2,
} as const;

/** `fuse_write_in.write_flags`. */
export const WriteFlag = {
  /** Delayed write from the page cache: `fh` is any open handle, not necessarily the writer's. */
  CACHE: 1,
  /** `lockOwner` is set. */
  LOCKOWNER: 2,
  /** Clear set-user-ID and set-group-ID bits: an unprivileged caller wrote (HANDLE_KILLPRIV_V2). */
  KILL_SUIDGID: 4,
} as const;

/** `fuse_release_in.release_flags`. */
export const ReleaseFlag = {
  /** Flush before releasing. */
  FLUSH: 1,
  /** Drop the flock(2) lock held by `lockOwner`. */
  FLOCK_UNLOCK: 2,
} as const;

/** `fuse_lk_in.lk_flags`: the lock is a flock(2), not a POSIX lock. */
export const LK_FLOCK = 1;
/** `fuse_fsync_in.fsync_flags`: fdatasync, data only. */
export const FSYNC_FDATASYNC = 1;
/** `fuse_poll_in.flags`: the kernel wants a NOTIFY_POLL with `kh` when the file becomes ready. */
export const POLL_SCHEDULE_NOTIFY = 1;

/** `fuse_ioctl_in/out.flags`. */
export const IoctlFlag = {
  COMPAT: 1,
  UNRESTRICTED: 2,
  RETRY: 4,
  /** The kernel's FUSE_IOCTL_32BIT (a leading digit is not an identifier). */
  BIT32: 8,
  DIR: 16,
  COMPAT_X32: 32,
} as const;

/** Largest iovec count in an ioctl retry reply. */
export const IOCTL_MAX_IOV = 256;

/** `fuse_open_in/create_in.open_flags`: kill suid/sgid because of O_TRUNC (HANDLE_KILLPRIV_V2). */
export const OPEN_KILL_SUIDGID = 1;
/** `fuse_setxattr_in.setxattr_flags`: clear sgid when setting system.posix_acl_access. */
export const SETXATTR_ACL_KILL_SGID = 1;

/** `fuse_attr.flags`. */
export const AttrFlag = {
  SUBMOUNT: 1,
  DAX: 2,
} as const;

/** `fuse_notify_inval_entry_out.flags`: expire the dentry instead of unhashing it. */
export const EXPIRE_ONLY = 1;

/** `fuse_setupmapping_in.flags` (virtiofs DAX). */
export const SetupmappingFlag = {
  WRITE: 1n,
  READ: 2n,
} as const;

/** `fuse_out_header.error` of an unsolicited notification (unique 0). */
export const NotifyCode = {
  POLL: 1,
  INVAL_INODE: 2,
  INVAL_ENTRY: 3,
  STORE: 4,
  RETRIEVE: 5,
  DELETE: 6,
  RESEND: 7,
  INC_EPOCH: 8,
  PRUNE: 9,
} as const;

/** renameat2(2) flags as carried by RENAME2. */
export const RenameFlag = {
  /** Fail with EEXIST if the new name exists. */
  NOREPLACE: 1,
  /** Swap the two names atomically; both must exist. */
  EXCHANGE: 2,
  /** Leave a whiteout at the old name (overlayfs). */
  WHITEOUT: 4,
} as const;

/** ioctl request numbers on a /dev/fuse fd (x86-64 and arm64 encodings). */
export const DevIoctl = {
  /** _IOR(229, 0, u32): bind a fresh fd to the connection of the fd given. */
  CLONE: 0x8004e500,
  /** _IOW(229, 1, struct fuse_backing_map): register a passthrough backing file. */
  BACKING_OPEN: 0x4010e501,
  /** _IOW(229, 2, u32): drop a backing id. */
  BACKING_CLOSE: 0x4004e502,
  /** _IO(229, 3): make mount(2) wait for the INIT reply; before mounting only. */
  SYNC_INIT: 0xe503,
} as const;

/** Request extension block types (7.38+): 0..MAX_NR_SECCTX are security-context blocks (the type is the count). */
export const MAX_NR_SECCTX = 31;
export const EXT_GROUPS = 32;

// ---- Sizes ----

export const IN_HEADER_SIZE = 40;
export const OUT_HEADER_SIZE = 16;
export const WRITE_IN_SIZE = 40;
export const ATTR_SIZE = 88;
export const ENTRY_OUT_SIZE = 128;
export const ATTR_OUT_SIZE = 104;
export const OPEN_OUT_SIZE = 16;
export const WRITE_OUT_SIZE = 8;
export const STATFS_OUT_SIZE = 80;
export const LK_OUT_SIZE = 24;
export const STATX_OUT_SIZE = 288;
export const IOCTL_OUT_SIZE = 16;
export const BACKING_MAP_SIZE = 16;
export const DIRENT_BASE_SIZE = 24;
export const DIRENTPLUS_BASE_SIZE = 152;
export const INIT_OUT_SIZE = 64;
/** The INIT reply that carries only major and minor: asks a kernel with a newer major to retry with ours. */
export const COMPAT_INIT_OUT_SIZE = 8;
/** fuse_setxattr_in without SETXATTR_EXT. */
export const COMPAT_SETXATTR_IN_SIZE = 8;
export const SETXATTR_IN_SIZE = 16;
/** fuse_mknod_in (mode, rdev, umask, padding). */
export const MKNOD_IN_SIZE = 16;
/** Absolute floor for a device read buffer; see minReadBufferSize for the real one. */
export const MIN_READ_BUFFER = 8192;

// ---- Other numbers ----

/** uid/gid that could not be mapped into the server's namespace (ALLOW_IDMAP). */
export const FUSE_INVALID_UIDGID = 0xffffffff;
/** `unique` bit on a request the kernel resent after NOTIFY_RESEND (7.40). */
export const UNIQUE_RESEND = 1n << 63n;
/** `unique` bit of INTERRUPT requests: their id is the target's id | 1. */
export const INT_REQ_BIT = 1n;
/** Largest errno the kernel accepts in a reply (it rejects error <= -512). */
export const MAX_ERRNO = 511;
/** Lock `end` meaning "to end of file" (OFFSET_MAX). */
export const OFFSET_MAX = 0x7fffffffffffffffn;

/**
 * Device read buffer size for a connection that announces `maxWrite`.
 *
 * The kernel refuses (EINVAL) any read smaller than
 * max(8192, in_header + write_in + max_write), and on 6.18 even that exact size
 * was seen to fail; max_write + one page is what libfuse uses and what worked.
 */
export function minReadBufferSize(maxWrite: number): number {
  if (!Number.isSafeInteger(maxWrite) || maxWrite < 0) {
    throw new RangeError(`maxWrite must be a non-negative integer, got ${maxWrite}`);
  }
  return Math.max(MIN_READ_BUFFER, IN_HEADER_SIZE + WRITE_IN_SIZE + maxWrite, maxWrite + 4096);
}
