/**
 * The facts about the C ABI that differ between the machines fusekit runs on:
 * where each field the binding reads or writes sits in glibc's structs, the
 * system call numbers it passes to syscall(2), and the open(2) flags whose
 * values the architectures define differently. Everything else the binding
 * needs (prototypes, the other constants) is the same on both LP64 Linux
 * ABIs supported here.
 *
 * One table per architecture, chosen from `process.arch` when the sys layer is
 * imported; any other platform or architecture stops that import with one
 * sentence saying so. test/sys/layout.test.ts compiles the C headers and
 * compares every number here with them (the arm64 table too, when an aarch64
 * cross compiler is installed).
 */

/** Where one member sits in a C struct: byte offset and width (`offsetof`, `sizeof`). */
export interface Field {
  readonly offset: number;
  readonly size: number;
}

/** A C struct as the binding uses it: its C type, its size, and the members it reads or writes. */
export interface Struct<Member extends string> {
  /** The C type, as a C program names it (`struct stat`). */
  readonly cType: string;
  /** `sizeof` the struct: the scratch space a call needs. */
  readonly bytes: number;
  /** Keyed by the C member name. */
  readonly fields: { readonly [M in Member]: Field };
}

/** The per-architecture table. */
export interface ArchLayout {
  /** The architecture as people name it (`x86-64`, `arm64`). */
  readonly name: string;
  /** glibc's `struct stat` (fstat, fstatat): the one struct whose layout differs. */
  readonly stat: Struct<
    'st_dev' | 'st_ino' | 'st_mode' | 'st_nlink' | 'st_uid' | 'st_gid' | 'st_rdev' | 'st_size' | 'st_blksize' |
    'st_blocks' | 'st_atim' | 'st_mtim' | 'st_ctim'
  >;
  /** `struct timespec`, as found in `struct stat` and in the utimensat(2) argument array. */
  readonly timespec: Struct<'tv_sec' | 'tv_nsec'>;
  /** glibc's `struct statfs`. */
  readonly statfs: Struct<
    'f_type' | 'f_bsize' | 'f_blocks' | 'f_bfree' | 'f_bavail' | 'f_files' | 'f_ffree' | 'f_namelen' | 'f_frsize' |
    'f_flags'
  >;
  /** The kernel's `struct statx`. */
  readonly statx: Struct<
    'stx_mask' | 'stx_blksize' | 'stx_attributes' | 'stx_nlink' | 'stx_uid' | 'stx_gid' | 'stx_mode' | 'stx_ino' |
    'stx_size' | 'stx_blocks' | 'stx_attributes_mask' | 'stx_atime' | 'stx_btime' | 'stx_ctime' | 'stx_mtime' |
    'stx_rdev_major' | 'stx_rdev_minor' | 'stx_dev_major' | 'stx_dev_minor' | 'stx_mnt_id' | 'stx_dio_mem_align' |
    'stx_dio_offset_align' | 'stx_subvol'
  >;
  /** `struct statx_timestamp`, the four times in `struct statx`. */
  readonly statxTimestamp: Struct<'tv_sec' | 'tv_nsec'>;
  /** The records getdents64(2) fills (glibc's `struct dirent64`; the name runs to the record's end). */
  readonly dirent64: Struct<'d_ino' | 'd_off' | 'd_reclen' | 'd_type' | 'd_name'>;
  /** `struct pollfd`. */
  readonly pollfd: Struct<'fd' | 'events' | 'revents'>;
  /** `struct rlimit`. */
  readonly rlimit: Struct<'rlim_cur' | 'rlim_max'>;
  /** `struct fuse_backing_map`, the FUSE_DEV_IOC_BACKING_OPEN argument. */
  readonly fuseBackingMap: Struct<'fd' | 'flags' | 'padding'>;
  /**
   * `struct file_handle` (name_to_handle_at, open_by_handle_at): the header
   * only; the handle's bytes (`f_handle`, a flexible array) follow it.
   */
  readonly fileHandle: Struct<'handle_bytes' | 'handle_type'>;
  /** System call numbers for the calls made through syscall(2) (`__NR_*`). */
  readonly syscalls: {
    /** fchmodat2(2), Linux 6.6: glibc 2.36 has no wrapper. */
    readonly fchmodat2: number;
    /** utimensat(2), for a NULL path, which glibc's wrapper refuses. */
    readonly utimensat: number;
    /** gettid(2). */
    readonly gettid: number;
  };
  /** The open(2) flags whose values differ between the architectures. */
  readonly openFlags: {
    readonly O_DIRECT: number;
    readonly O_DIRECTORY: number;
    readonly O_NOFOLLOW: number;
    /** `__O_TMPFILE | O_DIRECTORY`, as glibc defines it. */
    readonly O_TMPFILE: number;
  };
}

const field = (offset: number, size: number): Field => ({ offset, size });

// The structs below have one layout on both architectures (kernel UAPI
// structs, or glibc types built only from 64-bit longs and fixed-width
// members), so both tables share them.

const timespec: ArchLayout['timespec'] = {
  cType: 'struct timespec',
  bytes: 16,
  fields: { tv_sec: field(0, 8), tv_nsec: field(8, 8) },
};

const statfs: ArchLayout['statfs'] = {
  cType: 'struct statfs',
  bytes: 120,
  fields: {
    f_type: field(0, 8),
    f_bsize: field(8, 8),
    f_blocks: field(16, 8),
    f_bfree: field(24, 8),
    f_bavail: field(32, 8),
    f_files: field(40, 8),
    f_ffree: field(48, 8),
    // f_fsid (8 bytes) at 56 is not read
    f_namelen: field(64, 8),
    f_frsize: field(72, 8),
    f_flags: field(80, 8),
  },
};

const statx: ArchLayout['statx'] = {
  cType: 'struct statx',
  bytes: 256,
  fields: {
    stx_mask: field(0, 4),
    stx_blksize: field(4, 4),
    stx_attributes: field(8, 8),
    stx_nlink: field(16, 4),
    stx_uid: field(20, 4),
    stx_gid: field(24, 4),
    stx_mode: field(28, 2),
    stx_ino: field(32, 8),
    stx_size: field(40, 8),
    stx_blocks: field(48, 8),
    stx_attributes_mask: field(56, 8),
    stx_atime: field(64, 16),
    stx_btime: field(80, 16),
    stx_ctime: field(96, 16),
    stx_mtime: field(112, 16),
    stx_rdev_major: field(128, 4),
    stx_rdev_minor: field(132, 4),
    stx_dev_major: field(136, 4),
    stx_dev_minor: field(140, 4),
    stx_mnt_id: field(144, 8),
    stx_dio_mem_align: field(152, 4),
    stx_dio_offset_align: field(156, 4),
    stx_subvol: field(160, 8),
  },
};

const statxTimestamp: ArchLayout['statxTimestamp'] = {
  cType: 'struct statx_timestamp',
  bytes: 16,
  fields: { tv_sec: field(0, 8), tv_nsec: field(8, 4) },
};

const dirent64: ArchLayout['dirent64'] = {
  cType: 'struct dirent64',
  bytes: 280,
  fields: { d_ino: field(0, 8), d_off: field(8, 8), d_reclen: field(16, 2), d_type: field(18, 1), d_name: field(19, 256) },
};

const pollfd: ArchLayout['pollfd'] = {
  cType: 'struct pollfd',
  bytes: 8,
  fields: { fd: field(0, 4), events: field(4, 2), revents: field(6, 2) },
};

const rlimit: ArchLayout['rlimit'] = {
  cType: 'struct rlimit',
  bytes: 16,
  fields: { rlim_cur: field(0, 8), rlim_max: field(8, 8) },
};

const fuseBackingMap: ArchLayout['fuseBackingMap'] = {
  cType: 'struct fuse_backing_map',
  bytes: 16,
  fields: { fd: field(0, 4), flags: field(4, 4), padding: field(8, 8) },
};

const fileHandle: ArchLayout['fileHandle'] = {
  cType: 'struct file_handle',
  bytes: 8,
  fields: { handle_bytes: field(0, 4), handle_type: field(4, 4) },
};

// Syscalls added since Linux 5.1 (424 on) have one number on every
// architecture; older ones are numbered per architecture.
const FCHMODAT2 = 452;

/** x86-64: glibc's sysdeps/unix/sysv/linux/x86_64 struct stat, arch/x86 syscall_64 numbers. */
const X86_64: ArchLayout = {
  name: 'x86-64',
  stat: {
    cType: 'struct stat',
    bytes: 144,
    fields: {
      st_dev: field(0, 8),
      st_ino: field(8, 8),
      st_nlink: field(16, 8),
      st_mode: field(24, 4),
      st_uid: field(28, 4),
      st_gid: field(32, 4),
      st_rdev: field(40, 8),
      st_size: field(48, 8),
      st_blksize: field(56, 8),
      st_blocks: field(64, 8),
      st_atim: field(72, 16),
      st_mtim: field(88, 16),
      st_ctim: field(104, 16),
    },
  },
  timespec, statfs, statx, statxTimestamp, dirent64, pollfd, rlimit, fuseBackingMap, fileHandle,
  syscalls: { fchmodat2: FCHMODAT2, utimensat: 280, gettid: 186 },
  openFlags: { O_DIRECT: 0o40000, O_DIRECTORY: 0o200000, O_NOFOLLOW: 0o400000, O_TMPFILE: 0o20200000 },
};

/**
 * arm64: glibc's generic struct stat (asm-generic/stat.h's layout: 32-bit
 * st_nlink and st_blksize, 128 bytes), asm-generic/unistd.h numbers.
 */
const ARM64: ArchLayout = {
  name: 'arm64',
  stat: {
    cType: 'struct stat',
    bytes: 128,
    fields: {
      st_dev: field(0, 8),
      st_ino: field(8, 8),
      st_mode: field(16, 4),
      st_nlink: field(20, 4),
      st_uid: field(24, 4),
      st_gid: field(28, 4),
      st_rdev: field(32, 8),
      // 8 bytes of padding at 40
      st_size: field(48, 8),
      st_blksize: field(56, 4),
      st_blocks: field(64, 8),
      st_atim: field(72, 16),
      st_mtim: field(88, 16),
      st_ctim: field(104, 16),
    },
  },
  timespec, statfs, statx, statxTimestamp, dirent64, pollfd, rlimit, fuseBackingMap, fileHandle,
  syscalls: { fchmodat2: FCHMODAT2, utimensat: 88, gettid: 178 },
  openFlags: { O_DIRECT: 0o200000, O_DIRECTORY: 0o40000, O_NOFOLLOW: 0o100000, O_TMPFILE: 0o20040000 },
};

/** The tables by Node's name for the architecture (`process.arch`). */
export const ARCH_LAYOUTS: { readonly [nodeArch: string]: ArchLayout } = { x64: X86_64, arm64: ARM64 };

/** The table for a platform and architecture as Node names them; throws on anything but Linux on x86-64 or arm64. */
export function archLayoutFor(platform: string, nodeArch: string): ArchLayout {
  const layout = Object.hasOwn(ARCH_LAYOUTS, nodeArch) ? ARCH_LAYOUTS[nodeArch] : undefined;
  if (platform !== 'linux' || layout === undefined) {
    throw new Error(`fusekit supports Linux on x86-64 and arm64; this is ${platform} on ${nodeArch}.`);
  }
  return layout;
}

/** The table for this machine. */
export const arch: ArchLayout = archLayoutFor(process.platform, process.arch);
