/**
 * Typed shapes of the FUSE wire protocol (protocol 7.45, negotiable down to 7.31).
 *
 * Requests decode into one interface per opcode, discriminated by `op`; replies
 * encode from one interface per reply struct. Numbers that the kernel treats as
 * 64-bit but that never exceed 2^53 in practice (node ids, file handles, sizes,
 * file offsets, inode numbers) are JS numbers; the decoders reject values past
 * Number.MAX_SAFE_INTEGER where that would lose information. Request ids and
 * directory cookies (ext4 uses 63-bit hash cookies) are bigint.
 */

declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

/**
 * The kernel's name for an inode: chosen by the filesystem, 1 is the root.
 * Branded so that an inode number, a file handle or a count cannot be passed
 * where a node id belongs (they are all integers, and the kernel would
 * silently cache the wrong inode): make one with `nodeId(n)`, which checks
 * the range, and keep it typed from there on.
 */
export type NodeId = Brand<number, 'NodeId'>;
/** An open file or directory handle chosen by the filesystem in OPEN/OPENDIR/CREATE. */
export type FileHandle = Brand<number, 'FileHandle'>;
/** A passthrough backing file id returned by FUSE_DEV_IOC_BACKING_OPEN (> 0). */
export type BackingId = Brand<number, 'BackingId'>;
/** A request id (`fuse_in_header.unique`); bit 0 marks INTERRUPT, bit 63 a resend. */
export type RequestId = bigint;

/** The root directory's node id: the kernel knows it without a LOOKUP. */
export const ROOT_ID = 1 as NodeId;

/**
 * `struct fuse_in_header`, as decoded: what every request starts with.
 * A filesystem reads the same facts from its `RequestContext`.
 * @internal
 */
export interface InHeader {
  /** Length of the whole request in bytes, header included. */
  len: number;
  /** The opcode number (`Opcode`). */
  opcode: number;
  /** The request id, echoed in the reply. */
  unique: RequestId;
  /** The node the request targets. */
  nodeid: NodeId;
  /** The caller's fsuid. */
  uid: number;
  /** The caller's fsgid. */
  gid: number;
  /** The caller's thread group id; 0 for requests no process made. */
  pid: number;
  /** Length of the extension area in 8-byte units (7.38+). */
  totalExtlen: number;
}

/** A file name as the kernel sent it: raw bytes (Linux names need not be UTF-8) and a UTF-8 view. */
export interface WireName {
  /** UTF-8 decoding, for display and for filesystems that key by string. */
  name: string;
  /** The exact bytes, without the NUL. A view into the request buffer: copy it to keep it. */
  nameBytes: Buffer;
}

/** Decoded request extension area (7.38+): security contexts and supplementary groups. */
export interface RequestExtensions {
  /** Security contexts for the new inode (sent when SECURITY_CTX is negotiated): one per LSM that labels it. */
  secctx?: {
    /** The xattr name the label goes in, e.g. `security.selinux`. */
    name: string;
    /** The label's bytes. */
    value: Buffer;
  }[];
  /** The caller's supplementary groups (sent when CREATE_SUPP_GROUP is negotiated), to pick the new inode's group. */
  suppGroups?: number[];
}

/** A point in time as seconds and nanoseconds since the epoch. */
export interface Timespec {
  /** Whole seconds. */
  sec: number;
  /** Nanoseconds, 0 to 999,999,999. */
  nsec: number;
}

/** `struct fuse_attr`: what stat(2) will show. */
export interface Attr {
  /** Inode number shown as st_ino; it need not equal the node id. */
  ino: number;
  /** Size in bytes. */
  size: number;
  /** 512-byte blocks allocated. */
  blocks: number;
  /** Last access, seconds. */
  atimeSec: number;
  /** Last access, nanoseconds. */
  atimeNsec: number;
  /** Last data change, seconds. */
  mtimeSec: number;
  /** Last data change, nanoseconds. */
  mtimeNsec: number;
  /** Last status change, seconds. */
  ctimeSec: number;
  /** Last status change, nanoseconds. */
  ctimeNsec: number;
  /** S_IFMT type bits plus permission bits. */
  mode: number;
  /** Hard link count. */
  nlink: number;
  /** Owner's uid. */
  uid: number;
  /** Owner's gid. */
  gid: number;
  /** New-style encoded dev_t. */
  rdev: number;
  /** Preferred I/O size, shown as st_blksize; 0 gives the mount's block size. */
  blksize: number;
  /** FUSE_ATTR_* bits; 0 normally. */
  flags?: number;
}

/** `struct fuse_entry_out`. Timeouts are in seconds (fractions allowed). nodeid 0 = cacheable negative entry. */
export interface EntryOut {
  /** The inode's node id; 0 for a negative entry. */
  nodeid: NodeId;
  /** With nodeid, names the inode for the filesystem's whole life: bump it when a node id is reused (NFS export relies on it). */
  generation: number;
  /** Seconds the kernel may keep the name without asking LOOKUP again. */
  entryTimeout: number;
  /** Seconds the kernel may keep `attr` without asking GETATTR. */
  attrTimeout: number;
  /** The inode's attributes. */
  attr: Attr;
}

/** `struct fuse_attr_out`: the reply to GETATTR and SETATTR. */
export interface AttrOut {
  /** Seconds the kernel may keep `attr` without asking GETATTR again. */
  attrTimeout: number;
  /** The inode's attributes. */
  attr: Attr;
}

/** `struct fuse_open_out`: the reply to OPEN and OPENDIR. */
export interface OpenOut {
  /** The handle the kernel passes back in every request on this open file. */
  fh: FileHandle;
  /** FOPEN_* bits. */
  openFlags: number;
  /** Read by the kernel only with FOPEN_PASSTHROUGH. */
  backingId: number;
}

/** `struct fuse_kstatfs`: the reply to STATFS, what statfs(2) shows. */
export interface StatfsOut {
  /** Size of the filesystem in `frsize` units. */
  blocks: number;
  /** Free blocks. */
  bfree: number;
  /** Free blocks an unprivileged user may use. */
  bavail: number;
  /** Inodes in total. */
  files: number;
  /** Free inodes. */
  ffree: number;
  /** Preferred I/O block size. */
  bsize: number;
  /** Longest file name, in bytes. */
  namelen: number;
  /** Fragment size, the unit of `blocks`; 0 means `bsize`. */
  frsize: number;
}

/** `struct fuse_file_lock`: a POSIX byte-range lock, in GETLK and SETLK and in GETLK's reply. */
export interface FileLock {
  /** First byte of the range. */
  start: number;
  /** Inclusive; 0x7fffffffffffffff (as bigint) means to EOF. */
  end: bigint;
  /** F_RDLCK (0), F_WRLCK (1) or F_UNLCK (2). */
  type: number;
  /** The holder's process id (GETLK's reply: the conflicting lock's; 0 if unknown). */
  pid: number;
}

/** `struct fuse_statx` (bit-for-bit statx(2)). Times as Timespec. */
export interface Statx {
  /** STATX_* bits of the fields filled in. */
  mask: number;
  /** Preferred I/O size. */
  blksize: number;
  /** STATX_ATTR_* bits set on the file. */
  attributes: bigint;
  /** Hard link count. */
  nlink: number;
  /** Owner's uid. */
  uid: number;
  /** Owner's gid. */
  gid: number;
  /** S_IFMT type bits plus permission bits. */
  mode: number;
  /** Inode number. */
  ino: number;
  /** Size in bytes. */
  size: number;
  /** 512-byte blocks allocated. */
  blocks: number;
  /** STATX_ATTR_* bits this filesystem supports, set or not. */
  attributesMask: bigint;
  /** Last access. */
  atime: Timespec;
  /** Creation (birth). */
  btime: Timespec;
  /** Last status change. */
  ctime: Timespec;
  /** Last data change. */
  mtime: Timespec;
  /** Device number of a device node: major. */
  rdevMajor: number;
  /** Device number of a device node: minor. */
  rdevMinor: number;
  /** Device the file lives on: major. */
  devMajor: number;
  /** Device the file lives on: minor. */
  devMinor: number;
}

/** `struct fuse_statx_out`: the reply to STATX. */
export interface StatxOut {
  /** Seconds the kernel may keep these attributes. */
  attrTimeout: number;
  /** Reserved by the protocol; 0. */
  flags: number;
  /** The attributes. */
  stat: Statx;
}

/** `struct fuse_init_in`: what the kernel offers at INIT. */
export interface InitIn {
  major: number;
  minor: number;
  maxReadahead: number;
  /** flags | (flags2 << 32), as a 64-bit set. flags2 is 0 when the kernel sent the 16-byte form. */
  flags: bigint;
}

/** `struct fuse_init_out`: the server's answer to INIT. */
export interface InitOut {
  major: number;
  minor: number;
  maxReadahead: number;
  /** 64-bit capability set; the encoder splits it into flags and flags2 (and sets INIT_EXT itself when any bit >= 32 is set). */
  flags: bigint;
  maxBackground: number;
  congestionThreshold: number;
  maxWrite: number;
  timeGran: number;
  maxPages: number;
  mapAlignment: number;
  maxStackDepth: number;
  requestTimeout: number;
}

// ---- Requests: one interface per opcode. `header` is always present. ----

interface Req<Op extends string> {
  /** The operation, by opcode name: tells the request types apart. */
  op: Op;
  /**
   * The decoded `fuse_in_header`. A filesystem reads the same facts from its
   * `RequestContext`.
   * @internal
   */
  header: InHeader;
}

/** INIT: the kernel offers a protocol version and capabilities; the session answers it. */
export interface InitRequest extends Req<'INIT'> {
  /** What the kernel offers. */
  init: InitIn;
}
/** LOOKUP: resolve `name` in the directory `ctx.nodeid`. */
export interface LookupRequest extends Req<'LOOKUP'>, WireName {}
/** FORGET: the kernel drops `nlookup` lookup references to the request's node. No reply. */
export interface ForgetRequest extends Req<'FORGET'> {
  /** References dropped. */
  nlookup: number;
}
/** BATCH_FORGET: several FORGETs in one request. No reply. */
export interface BatchForgetRequest extends Req<'BATCH_FORGET'> {
  /** Each node and the references dropped on it. */
  forgets: { nodeid: NodeId; nlookup: number }[];
}
/** GETATTR: stat(2) of `ctx.nodeid`, or fstat(2) of an open file. */
export interface GetattrRequest extends Req<'GETATTR'> {
  /** GETATTR_FH when `fh` names the open file asked about. */
  getattrFlags: number;
  /** valid when getattrFlags & GETATTR_FH */
  fh: FileHandle;
}
/** SETATTR: chmod, chown, truncate, utimes and friends on `ctx.nodeid`. Only the fields `valid` names carry a value. */
export interface SetattrRequest extends Req<'SETATTR'> {
  /** FATTR_* bits (`Fattr`): which of the fields below to apply. */
  valid: number;
  /** The open file the change came through (with Fattr.FH: ftruncate, fchmod…). */
  fh: FileHandle;
  /** New size (Fattr.SIZE). */
  size: number;
  /** Lock owner of the caller's file table (Fattr.LOCKOWNER), for mandatory-lock checks. */
  lockOwner: bigint;
  /** New access time (Fattr.ATIME; Fattr.ATIME_NOW: the current time instead). */
  atime: Timespec;
  /** New modification time (Fattr.MTIME; Fattr.MTIME_NOW: the current time instead). */
  mtime: Timespec;
  /** New status change time (Fattr.CTIME). */
  ctime: Timespec;
  /** New permission bits (Fattr.MODE). */
  mode: number;
  /** New owner (Fattr.UID). */
  uid: number;
  /** New group (Fattr.GID). */
  gid: number;
}
/** READLINK: the target of the symlink `ctx.nodeid`. */
export interface ReadlinkRequest extends Req<'READLINK'> {}
/** SYMLINK: create the symlink `name` in the directory `ctx.nodeid`. */
export interface SymlinkRequest extends Req<'SYMLINK'>, WireName {
  /** What the link points to, as UTF-8. */
  target: string;
  /** What the link points to, exact bytes without the NUL. */
  targetBytes: Buffer;
  /** Security contexts and groups for the new inode. */
  ext: RequestExtensions;
}
/** MKNOD: create the file, FIFO, socket or device node `name` in the directory `ctx.nodeid`. */
export interface MknodRequest extends Req<'MKNOD'>, WireName {
  /** File type and permission bits; the kernel has applied `umask` unless DONT_MASK is negotiated. */
  mode: number;
  /** Device number, for a character or block device. */
  rdev: number;
  /** The caller's umask. */
  umask: number;
  /** Security contexts and groups for the new inode. */
  ext: RequestExtensions;
}
/** MKDIR: create the directory `name` in the directory `ctx.nodeid`. */
export interface MkdirRequest extends Req<'MKDIR'>, WireName {
  /** Permission bits; the kernel has applied `umask` unless DONT_MASK is negotiated. */
  mode: number;
  /** The caller's umask. */
  umask: number;
  /** Security contexts and groups for the new inode. */
  ext: RequestExtensions;
}
/** UNLINK: remove `name` from the directory `ctx.nodeid`. */
export interface UnlinkRequest extends Req<'UNLINK'>, WireName {}
/** RMDIR: remove the empty directory `name` from the directory `ctx.nodeid`. */
export interface RmdirRequest extends Req<'RMDIR'>, WireName {}
/** RENAME and RENAME2 both decode to this; flags is 0 for RENAME. */
export interface RenameRequest extends Req<'RENAME'>, WireName {
  /** The directory `newName` goes in (`name` is in `ctx.nodeid`). */
  newdir: NodeId;
  /** The new name, as UTF-8. */
  newName: string;
  /** The new name, exact bytes. A view into the request buffer: copy it to keep it. */
  newNameBytes: Buffer;
  /** RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_WHITEOUT (`RenameFlag`). */
  flags: number;
}
/** LINK: a new hard link `name`, in the directory `ctx.nodeid`, to the inode `oldnodeid`. */
export interface LinkRequest extends Req<'LINK'>, WireName {
  /** The inode being linked. */
  oldnodeid: NodeId;
}
/** OPEN: open(2) of the non-directory `ctx.nodeid`. */
export interface OpenRequest extends Req<'OPEN'> {
  /** open(2) flags, less O_CREAT, O_EXCL and O_NOCTTY (and O_TRUNC unless ATOMIC_O_TRUNC is negotiated). */
  flags: number;
  /** OPEN_KILL_SUIDGID when the open truncates and set-user-ID and set-group-ID bits must be cleared. */
  openFlags: number;
}
/** READ: up to `size` bytes at `offset` of an open file. */
export interface ReadRequest extends Req<'READ'> {
  /** The handle from OPEN. */
  fh: FileHandle;
  /** Byte offset in the file. */
  offset: number;
  /** Bytes wanted. */
  size: number;
  /** ReadFlag.LOCKOWNER when `lockOwner` is set. */
  readFlags: number;
  /** Lock owner of the caller's file table. */
  lockOwner: bigint;
  /** The open file's open(2) flags. */
  flags: number;
}
/** WRITE: `data` at `offset` of an open file. */
export interface WriteRequest extends Req<'WRITE'> {
  /** The handle from OPEN. */
  fh: FileHandle;
  /** Byte offset in the file. */
  offset: number;
  /** Bytes in `data`. */
  size: number;
  /** `WriteFlag` bits: CACHE (from the page cache, not a caller), LOCKOWNER, KILL_SUIDGID. */
  writeFlags: number;
  /** Lock owner of the caller's file table (with WriteFlag.LOCKOWNER). */
  lockOwner: bigint;
  /** The open file's open(2) flags. */
  flags: number;
  /** view into the request buffer */
  data: Buffer;
}
/** STATFS: statfs(2) of the filesystem. */
export interface StatfsRequest extends Req<'STATFS'> {}
/** RELEASE: the last close of an open file; its handle is gone after the reply. */
export interface ReleaseRequest extends Req<'RELEASE'> {
  /** The handle from OPEN. */
  fh: FileHandle;
  /** The open file's open(2) flags. */
  flags: number;
  /** `ReleaseFlag` bits: FLUSH (flush first), FLOCK_UNLOCK (drop the flock(2) lock of `lockOwner`). */
  releaseFlags: number;
  /** The flock(2) lock owner, with ReleaseFlag.FLOCK_UNLOCK. */
  lockOwner: bigint;
}
/** FSYNC: fsync(2) or fdatasync(2) of an open file. */
export interface FsyncRequest extends Req<'FSYNC'> {
  /** The handle from OPEN. */
  fh: FileHandle;
  /** FSYNC_FDATASYNC: data only, not metadata. */
  fsyncFlags: number;
}
/** SETXATTR: set the extended attribute `name` of `ctx.nodeid`. */
export interface SetxattrRequest extends Req<'SETXATTR'>, WireName {
  /** Length of `value`. */
  size: number;
  /** XATTR_CREATE (1): fail if it exists; XATTR_REPLACE (2): fail if it does not. */
  flags: number;
  /** SETXATTR_ACL_KILL_SGID (with SETXATTR_EXT): clear the set-group-ID bit while setting an ACL. */
  setxattrFlags: number;
  /** The value. A view into the request buffer: copy it to keep it. */
  value: Buffer;
}
/** GETXATTR: the value of the extended attribute `name` of `ctx.nodeid`. */
export interface GetxattrRequest extends Req<'GETXATTR'>, WireName {
  /** The caller's buffer size; 0 asks for the value's size (fusekit answers that from the value). */
  size: number;
}
/** LISTXATTR: the extended attribute names of `ctx.nodeid`. */
export interface ListxattrRequest extends Req<'LISTXATTR'> {
  /** The caller's buffer size; 0 asks for the list's size (fusekit answers that from the names). */
  size: number;
}
/** REMOVEXATTR: remove the extended attribute `name` of `ctx.nodeid`. */
export interface RemovexattrRequest extends Req<'REMOVEXATTR'>, WireName {}
/** FLUSH: a close(2) of one descriptor of an open file (several per open after dup or fork). */
export interface FlushRequest extends Req<'FLUSH'> {
  /** The handle from OPEN. */
  fh: FileHandle;
  /** Lock owner of the closing file table, whose POSIX locks the close drops. */
  lockOwner: bigint;
}
/** OPENDIR: open of the directory `ctx.nodeid`. */
export interface OpendirRequest extends Req<'OPENDIR'> {
  /** open(2) flags, as for OPEN. */
  flags: number;
  /** As for OPEN; 0 in practice, since a directory is never truncated. */
  openFlags: number;
}
/** READDIR: directory records from cookie `offset` on. */
export interface ReaddirRequest extends Req<'READDIR'> {
  /** The handle from OPENDIR (0 without opendir). */
  fh: FileHandle;
  /** The cookie to resume after (0: from the start). */
  offset: bigint;
  /** Largest reply, in bytes. */
  size: number;
}
/** READDIRPLUS: directory records with each entry's attributes, from cookie `offset` on. */
export interface ReaddirplusRequest extends Req<'READDIRPLUS'> {
  /** The handle from OPENDIR (0 without opendir). */
  fh: FileHandle;
  /** The cookie to resume after (0: from the start). */
  offset: bigint;
  /** Largest reply, in bytes. */
  size: number;
}
/** RELEASEDIR: the last close of an open directory. */
export interface ReleasedirRequest extends Req<'RELEASEDIR'> {
  /** The handle from OPENDIR. */
  fh: FileHandle;
  /** The open directory's open(2) flags. */
  flags: number;
  /** `ReleaseFlag` bits. */
  releaseFlags: number;
  /** The flock(2) lock owner, with ReleaseFlag.FLOCK_UNLOCK. */
  lockOwner: bigint;
}
/** FSYNCDIR: fsync(2) of an open directory. */
export interface FsyncdirRequest extends Req<'FSYNCDIR'> {
  /** The handle from OPENDIR. */
  fh: FileHandle;
  /** FSYNC_FDATASYNC: data only, not metadata. */
  fsyncFlags: number;
}
/** GETLK: would `lk` conflict with a lock someone else holds? */
export interface GetlkRequest extends Req<'GETLK'> {
  /** The handle from OPEN. */
  fh: FileHandle;
  /** The asking lock owner. */
  owner: bigint;
  /** The lock to test. */
  lk: FileLock;
  /** LK_FLOCK for a flock(2) lock. */
  lkFlags: number;
}
/** SETLK and SETLKW: take or release a lock. */
export interface SetlkRequest extends Req<'SETLK'> {
  /** The handle from OPEN. */
  fh: FileHandle;
  /** The lock owner. */
  owner: bigint;
  /** The lock to take, or F_UNLCK to release. */
  lk: FileLock;
  /** LK_FLOCK for a flock(2) lock. */
  lkFlags: number;
  /** true for SETLKW */
  sleep: boolean;
}
/** ACCESS: access(2) of `ctx.nodeid`. */
export interface AccessRequest extends Req<'ACCESS'> {
  /** R_OK (4), W_OK (2), X_OK (1), or F_OK (0): existence only. */
  mask: number;
}
/** CREATE: create and open the file `name` in the directory `ctx.nodeid`. */
export interface CreateRequest extends Req<'CREATE'>, WireName {
  /** open(2) flags, O_CREAT included. */
  flags: number;
  /** Permission bits; the kernel has applied `umask` unless DONT_MASK is negotiated. */
  mode: number;
  /** The caller's umask. */
  umask: number;
  /** OPEN_KILL_SUIDGID when the open truncates and set-user-ID and set-group-ID bits must be cleared. */
  openFlags: number;
  /** Security contexts and groups for the new inode. */
  ext: RequestExtensions;
}
/** TMPFILE: open(O_TMPFILE): create and open an unnamed file in the directory `ctx.nodeid`. */
export interface TmpfileRequest extends Req<'TMPFILE'>, WireName {
  /** open(2) flags. */
  flags: number;
  /** Permission bits; the kernel has applied `umask` unless DONT_MASK is negotiated. */
  mode: number;
  /** The caller's umask. */
  umask: number;
  /** OPEN_KILL_SUIDGID bits, as for CREATE. */
  openFlags: number;
  /** Security contexts and groups for the new inode. */
  ext: RequestExtensions;
}
/** INTERRUPT: the caller of request `target` caught a signal. The session aborts that request's `ctx.signal`. */
export interface InterruptRequest extends Req<'INTERRUPT'> {
  /** The interrupted request's id. */
  target: RequestId;
}
/** BMAP: map a file block to a device block (block-device mounts only). */
export interface BmapRequest extends Req<'BMAP'> {
  /** The block index in the file. */
  block: number;
  /** Block size in bytes. */
  blocksize: number;
}
/** DESTROY: the connection is being torn down. */
export interface DestroyRequest extends Req<'DESTROY'> {}
/** IOCTL: ioctl(2) on an open file, restricted form: the kernel moves the argument's bytes as `cmd` encodes them. */
export interface IoctlRequest extends Req<'IOCTL'> {
  /** The handle from OPEN. */
  fh: FileHandle;
  /** FUSE_IOCTL_* bits (`IoctlFlag`): COMPAT, DIR, 32BIT… */
  flags: number;
  /** The ioctl command. */
  cmd: number;
  /** The caller's raw argument (a pointer in the caller's address space). */
  arg: bigint;
  /** Bytes in `data`. */
  inSize: number;
  /** Largest answer the caller takes, in bytes. */
  outSize: number;
  /** The input bytes. A view into the request buffer: copy it to keep it. */
  data: Buffer;
}
/** POLL: which of `events` are ready on an open file. */
export interface PollRequest extends Req<'POLL'> {
  /** The handle from OPEN. */
  fh: FileHandle;
  /** The kernel's handle to name in a poll wakeup notification. */
  kh: bigint;
  /** POLL_SCHEDULE_NOTIFY: someone waits, and wants a notification when an event comes. */
  flags: number;
  /** The poll events asked about (POLLIN, POLLOUT…). */
  events: number;
}
/** NOTIFY_REPLY: the kernel's answer to a retrieve notification. */
export interface NotifyReplyRequest extends Req<'NOTIFY_REPLY'> {
  /** Byte offset of `data` in the file. */
  offset: number;
  /** Bytes in `data`. */
  size: number;
  /** The cached bytes. */
  data: Buffer;
}
/** FALLOCATE: fallocate(2) on an open file. */
export interface FallocateRequest extends Req<'FALLOCATE'> {
  /** The handle from OPEN. */
  fh: FileHandle;
  /** Start of the range. */
  offset: number;
  /** Length of the range. */
  length: number;
  /** FALLOC_FL_* bits (0: allocate). */
  mode: number;
}
/** LSEEK: lseek(2) with SEEK_DATA or SEEK_HOLE on an open file. */
export interface LseekRequest extends Req<'LSEEK'> {
  /** The handle from OPEN. */
  fh: FileHandle;
  /** Where to start looking. */
  offset: number;
  /** SEEK_DATA (3) or SEEK_HOLE (4). */
  whence: number;
}
/** COPY_FILE_RANGE and COPY_FILE_RANGE_64 both decode to this; `wide` tells which reply to send. */
export interface CopyFileRangeRequest extends Req<'COPY_FILE_RANGE'> {
  /** The source's handle (the source is `ctx.nodeid`). */
  fhIn: FileHandle;
  /** Offset in the source. */
  offIn: number;
  /** The destination's node id. */
  nodeidOut: NodeId;
  /** The destination's handle. */
  fhOut: FileHandle;
  /** Offset in the destination. */
  offOut: number;
  /** Bytes to copy. */
  len: number;
  /** copy_file_range(2) flags (0 today). */
  flags: bigint;
  /** COPY_FILE_RANGE_64: the reply may count more than 4 GiB. */
  wide: boolean;
}
/** SYNCFS: syncfs(2) of the whole filesystem. */
export interface SyncfsRequest extends Req<'SYNCFS'> {}
/** STATX: statx(2) of `ctx.nodeid` or of an open file. */
export interface StatxRequest extends Req<'STATX'> {
  /** GETATTR_FH when `fh` names the open file asked about. */
  getattrFlags: number;
  /** The open file, with GETATTR_FH. */
  fh: FileHandle;
  /** AT_STATX_* sync flags of the call. */
  sxFlags: number;
  /** STATX_* bits of the fields the caller wants. */
  sxMask: number;
}
/** SETUPMAPPING: map part of a file into the DAX window (virtiofs). */
export interface SetupmappingRequest extends Req<'SETUPMAPPING'> {
  /** The handle from OPEN. */
  fh: FileHandle;
  /** Offset in the file. */
  foffset: number;
  /** Length of the mapping. */
  len: number;
  /** SetupmappingFlag bits (read, write). */
  flags: bigint;
  /** Offset in the DAX window. */
  moffset: number;
}
/** REMOVEMAPPING: unmap ranges of the DAX window (virtiofs). */
export interface RemovemappingRequest extends Req<'REMOVEMAPPING'> {
  /** The ranges, by window offset and length. */
  mappings: { moffset: number; len: number }[];
}
/** An opcode this codec does not know: the session answers ENOSYS. */
export interface UnknownRequest extends Req<'UNKNOWN'> {}

/** Every request, told apart by `op`. */
export type FuseRequest =
  | InitRequest | LookupRequest | ForgetRequest | BatchForgetRequest | GetattrRequest | SetattrRequest
  | ReadlinkRequest | SymlinkRequest | MknodRequest | MkdirRequest | UnlinkRequest | RmdirRequest
  | RenameRequest | LinkRequest | OpenRequest | ReadRequest | WriteRequest | StatfsRequest
  | ReleaseRequest | FsyncRequest | SetxattrRequest | GetxattrRequest | ListxattrRequest
  | RemovexattrRequest | FlushRequest | OpendirRequest | ReaddirRequest | ReaddirplusRequest
  | ReleasedirRequest | FsyncdirRequest | GetlkRequest | SetlkRequest | AccessRequest
  | CreateRequest | TmpfileRequest | InterruptRequest | BmapRequest | DestroyRequest | IoctlRequest
  | PollRequest | NotifyReplyRequest | FallocateRequest | LseekRequest | CopyFileRangeRequest
  | SyncfsRequest | StatxRequest | SetupmappingRequest | RemovemappingRequest | UnknownRequest;

/** What the decoder needs to know about the connection. */
export interface DecodeOptions {
  /** Negotiated minor (before INIT: the kernel's, i.e. 45). */
  minor: number;
  /** FUSE_SETXATTR_EXT was enabled in the INIT reply (16-byte fuse_setxattr_in). */
  setxattrExt: boolean;
}
