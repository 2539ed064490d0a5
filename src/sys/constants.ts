/**
 * Linux constants for the calls in libc.ts, checked against glibc's and the
 * kernel's headers by test/sys/layout.test.ts. Node's os.constants lacks most
 * of these. The few whose values differ between x86-64 and arm64 come from
 * the architecture's table in arch.ts; the FUSE ones from abi/.
 */

import { arch } from './arch.js';
import { DevIoctl, RenameFlag } from '../abi/constants.js';

// open(2) flags
export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_ACCMODE = 3;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NOCTTY = 0o400;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_NONBLOCK = 0o4000;
export const O_DSYNC = 0o10000;
export const O_DIRECT = arch.openFlags.O_DIRECT;
export const O_DIRECTORY = arch.openFlags.O_DIRECTORY;
export const O_NOFOLLOW = arch.openFlags.O_NOFOLLOW;
export const O_NOATIME = 0o1000000;
export const O_CLOEXEC = 0o2000000;
export const O_SYNC = 0o4010000;
export const O_PATH = 0o10000000;
export const O_TMPFILE = arch.openFlags.O_TMPFILE; // includes O_DIRECTORY

// *at(2) flags
export const AT_FDCWD = -100;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_REMOVEDIR = 0x200;
export const AT_EACCESS = 0x200;
export const AT_SYMLINK_FOLLOW = 0x400;
export const AT_NO_AUTOMOUNT = 0x800;
export const AT_EMPTY_PATH = 0x1000;
export const AT_STATX_SYNC_AS_STAT = 0;
export const AT_STATX_FORCE_SYNC = 0x2000;
export const AT_STATX_DONT_SYNC = 0x4000;

// name_to_handle_at(2): the largest handle the kernel hands out
export const MAX_HANDLE_SZ = 128;

// renameat2(2)
export const RENAME_NOREPLACE = RenameFlag.NOREPLACE;
export const RENAME_EXCHANGE = RenameFlag.EXCHANGE;
export const RENAME_WHITEOUT = RenameFlag.WHITEOUT;

// utimensat(2) special nsec values
export const UTIME_NOW = (1 << 30) - 1;
export const UTIME_OMIT = (1 << 30) - 2;

// umount2(2)
export const MNT_FORCE = 1;
export const MNT_DETACH = 2;
export const MNT_EXPIRE = 4;
export const UMOUNT_NOFOLLOW = 8;

// mount(2) flags
export const MS_RDONLY = 0x1;
export const MS_NOSUID = 0x2;
export const MS_NODEV = 0x4;
export const MS_NOEXEC = 0x8;
export const MS_SYNCHRONOUS = 0x10;
export const MS_REMOUNT = 0x20;
export const MS_MANDLOCK = 0x40;
export const MS_DIRSYNC = 0x80;
export const MS_NOSYMFOLLOW = 0x100;
export const MS_NOATIME = 0x400;
export const MS_NODIRATIME = 0x800;
export const MS_BIND = 0x1000;
export const MS_MOVE = 0x2000;
export const MS_REC = 0x4000;
export const MS_SILENT = 0x8000;
export const MS_POSIXACL = 0x10000;
export const MS_UNBINDABLE = 0x20000;
export const MS_PRIVATE = 0x40000;
export const MS_SLAVE = 0x80000;
export const MS_SHARED = 0x100000;
export const MS_RELATIME = 0x200000;
export const MS_STRICTATIME = 0x1000000;
export const MS_LAZYTIME = 0x2000000;

// lseek(2)
export const SEEK_SET = 0;
export const SEEK_CUR = 1;
export const SEEK_END = 2;
export const SEEK_DATA = 3;
export const SEEK_HOLE = 4;

// poll(2)
export const POLLIN = 0x1;
export const POLLPRI = 0x2;
export const POLLOUT = 0x4;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const POLLNVAL = 0x20;
export const POLLRDHUP = 0x2000;

// st_mode
/** The file-type bits of a mode (`mode & S_IFMT` is one of the S_IF* below). */
export const S_IFMT = 0o170000;
/** File type: socket. */
export const S_IFSOCK = 0o140000;
/** File type: symbolic link. */
export const S_IFLNK = 0o120000;
/** File type: regular file. */
export const S_IFREG = 0o100000;
/** File type: block device. */
export const S_IFBLK = 0o060000;
/** File type: directory. */
export const S_IFDIR = 0o040000;
/** File type: character device. */
export const S_IFCHR = 0o020000;
/** File type: FIFO (named pipe). */
export const S_IFIFO = 0o010000;
export const S_ISUID = 0o4000;
export const S_ISGID = 0o2000;
export const S_ISVTX = 0o1000;
export const S_IXGRP = 0o010;

// d_type (linux_dirent64): the S_IF* type shifted right by 12.
/** Directory entry type: not known (the kernel then looks the name up to learn it). */
export const DT_UNKNOWN = 0;
/** Directory entry type: FIFO. */
export const DT_FIFO = 1;
/** Directory entry type: character device. */
export const DT_CHR = 2;
/** Directory entry type: directory. */
export const DT_DIR = 4;
/** Directory entry type: block device. */
export const DT_BLK = 6;
/** Directory entry type: regular file. */
export const DT_REG = 8;
/** Directory entry type: symbolic link. */
export const DT_LNK = 10;
/** Directory entry type: socket. */
export const DT_SOCK = 12;
export const DT_WHT = 14;

// statx(2) mask bits
export const STATX_TYPE = 0x1;
export const STATX_MODE = 0x2;
export const STATX_NLINK = 0x4;
export const STATX_UID = 0x8;
export const STATX_GID = 0x10;
export const STATX_ATIME = 0x20;
export const STATX_MTIME = 0x40;
export const STATX_CTIME = 0x80;
export const STATX_INO = 0x100;
export const STATX_SIZE = 0x200;
export const STATX_BLOCKS = 0x400;
export const STATX_BASIC_STATS = 0x7ff;
export const STATX_BTIME = 0x800;
export const STATX_ALL = 0xfff; // deprecated by the kernel, kept for completeness
export const STATX_MNT_ID = 0x1000;
export const STATX_DIOALIGN = 0x2000;
export const STATX_MNT_ID_UNIQUE = 0x4000;
export const STATX_SUBVOL = 0x8000;

// statx(2) stx_attributes bits (small enough to compare against Number(attributes))
export const STATX_ATTR_COMPRESSED = 0x4;
export const STATX_ATTR_IMMUTABLE = 0x10;
export const STATX_ATTR_APPEND = 0x20;
export const STATX_ATTR_NODUMP = 0x40;
export const STATX_ATTR_ENCRYPTED = 0x800;
export const STATX_ATTR_AUTOMOUNT = 0x1000;
export const STATX_ATTR_MOUNT_ROOT = 0x2000;
export const STATX_ATTR_VERITY = 0x100000;
export const STATX_ATTR_DAX = 0x200000;

// *setxattr(2)
export const XATTR_CREATE = 1;
export const XATTR_REPLACE = 2;

// fallocate(2)
export const FALLOC_FL_KEEP_SIZE = 0x1;
export const FALLOC_FL_PUNCH_HOLE = 0x2;
export const FALLOC_FL_NO_HIDE_STALE = 0x4;
export const FALLOC_FL_COLLAPSE_RANGE = 0x8;
export const FALLOC_FL_ZERO_RANGE = 0x10;
export const FALLOC_FL_INSERT_RANGE = 0x20;
export const FALLOC_FL_UNSHARE_RANGE = 0x40;

// access(2)
export const F_OK = 0;
export const X_OK = 1;
export const W_OK = 2;
export const R_OK = 4;

// getrlimit(2) / setrlimit(2)
export const RLIMIT_NOFILE = 7;

// /dev/fuse ioctls (linux/fuse.h): _IOR/_IOW(229, n, size)
export const FUSE_DEV_IOC_CLONE = DevIoctl.CLONE;
export const FUSE_DEV_IOC_BACKING_OPEN = DevIoctl.BACKING_OPEN;
export const FUSE_DEV_IOC_BACKING_CLOSE = DevIoctl.BACKING_CLOSE;
export const FUSE_DEV_IOC_SYNC_INIT = DevIoctl.SYNC_INIT;

// Device numbers in glibc's 64-bit dev_t encoding:
//   bits 0-7 minor[0:8], 8-19 major[0:12], 20-43 minor[8:32], 44-63 major[12:32].
// JS numbers hold this exactly while major < 2^21, which covers real devices.
const TWO_32 = 2 ** 32;

/** glibc makedev(): a dev_t from major and minor numbers. */
export function makedev(major: number, minor: number): number {
  const lo = (((major & 0xfff) << 8) | (minor & 0xff) | ((minor & 0xfff00) << 12)) >>> 0;
  const hi = (((minor >>> 20) & 0xfff) | (major & 0xfffff000)) >>> 0;
  return lo + hi * TWO_32;
}

/** glibc major(). */
export function major(dev: number): number {
  const lo = dev >>> 0;
  const hi = Math.floor(dev / TWO_32) >>> 0;
  return (((lo >>> 8) & 0xfff) | (hi & 0xfffff000)) >>> 0;
}

/** glibc minor(). */
export function minor(dev: number): number {
  const lo = dev >>> 0;
  const hi = Math.floor(dev / TWO_32) >>> 0;
  return ((lo & 0xff) | ((lo >>> 12) & 0xfff00) | ((hi & 0xfff) << 20)) >>> 0;
}
