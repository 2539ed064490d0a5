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

export const ROOT_ID = 1 as NodeId;

export interface InHeader {
  len: number;
  opcode: number;
  unique: RequestId;
  nodeid: NodeId;
  uid: number;
  gid: number;
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
  secctx?: { name: string; value: Buffer }[];
  suppGroups?: number[];
}

export interface Timespec {
  sec: number;
  nsec: number;
}

/** `struct fuse_attr`: what stat(2) will show. */
export interface Attr {
  ino: number;
  size: number;
  blocks: number;
  atimeSec: number;
  atimeNsec: number;
  mtimeSec: number;
  mtimeNsec: number;
  ctimeSec: number;
  ctimeNsec: number;
  /** S_IFMT type bits plus permission bits. */
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  /** New-style encoded dev_t. */
  rdev: number;
  blksize: number;
  /** FUSE_ATTR_* bits; 0 normally. */
  flags?: number;
}

/** `struct fuse_entry_out`. Timeouts are in seconds (fractions allowed). nodeid 0 = cacheable negative entry. */
export interface EntryOut {
  nodeid: NodeId;
  generation: number;
  entryTimeout: number;
  attrTimeout: number;
  attr: Attr;
}

export interface AttrOut {
  attrTimeout: number;
  attr: Attr;
}

export interface OpenOut {
  fh: FileHandle;
  /** FOPEN_* bits. */
  openFlags: number;
  /** Read by the kernel only with FOPEN_PASSTHROUGH. */
  backingId: number;
}

export interface StatfsOut {
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  bsize: number;
  namelen: number;
  frsize: number;
}

export interface FileLock {
  start: number;
  /** Inclusive; 0x7fffffffffffffff (as bigint) means to EOF. */
  end: bigint;
  type: number;
  pid: number;
}

/** `struct fuse_statx` (bit-for-bit statx(2)). Times as Timespec. */
export interface Statx {
  mask: number;
  blksize: number;
  attributes: bigint;
  nlink: number;
  uid: number;
  gid: number;
  mode: number;
  ino: number;
  size: number;
  blocks: number;
  attributesMask: bigint;
  atime: Timespec;
  btime: Timespec;
  ctime: Timespec;
  mtime: Timespec;
  rdevMajor: number;
  rdevMinor: number;
  devMajor: number;
  devMinor: number;
}

export interface StatxOut {
  attrTimeout: number;
  flags: number;
  stat: Statx;
}

export interface InitIn {
  major: number;
  minor: number;
  maxReadahead: number;
  /** flags | (flags2 << 32), as a 64-bit set. flags2 is 0 when the kernel sent the 16-byte form. */
  flags: bigint;
}

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
  op: Op;
  header: InHeader;
}

export interface InitRequest extends Req<'INIT'> { init: InitIn }
export interface LookupRequest extends Req<'LOOKUP'>, WireName {}
export interface ForgetRequest extends Req<'FORGET'> { nlookup: number }
export interface BatchForgetRequest extends Req<'BATCH_FORGET'> { forgets: { nodeid: NodeId; nlookup: number }[] }
export interface GetattrRequest extends Req<'GETATTR'> { getattrFlags: number; /** valid when getattrFlags & GETATTR_FH */ fh: FileHandle }
export interface SetattrRequest extends Req<'SETATTR'> {
  valid: number;
  fh: FileHandle;
  size: number;
  lockOwner: bigint;
  atime: Timespec;
  mtime: Timespec;
  ctime: Timespec;
  mode: number;
  uid: number;
  gid: number;
}
export interface ReadlinkRequest extends Req<'READLINK'> {}
export interface SymlinkRequest extends Req<'SYMLINK'>, WireName { target: string; targetBytes: Buffer; ext: RequestExtensions }
/**
 * About `umask` in MKNOD, MKDIR, CREATE and TMPFILE: the caller's umask. The
 * kernel has already applied it to `mode` unless the filesystem asked for
 * DONT_MASK in its `initFlags` (and the kernel granted it); only then is
 * `mode` unmasked and the filesystem must apply `umask` itself (or let a
 * default ACL decide, as the mirror does).
 */
export interface MknodRequest extends Req<'MKNOD'>, WireName { mode: number; rdev: number; umask: number; ext: RequestExtensions }
/** mkdir(2). `mode` is already masked by the caller's umask unless DONT_MASK was negotiated (see MknodRequest). */
export interface MkdirRequest extends Req<'MKDIR'>, WireName { mode: number; umask: number; ext: RequestExtensions }
export interface UnlinkRequest extends Req<'UNLINK'>, WireName {}
export interface RmdirRequest extends Req<'RMDIR'>, WireName {}
/** RENAME and RENAME2 both decode to this; flags is 0 for RENAME. */
export interface RenameRequest extends Req<'RENAME'>, WireName { newdir: NodeId; newName: string; newNameBytes: Buffer; flags: number }
export interface LinkRequest extends Req<'LINK'>, WireName { oldnodeid: NodeId }
export interface OpenRequest extends Req<'OPEN'> { flags: number; openFlags: number }
export interface ReadRequest extends Req<'READ'> { fh: FileHandle; offset: number; size: number; readFlags: number; lockOwner: bigint; flags: number }
export interface WriteRequest extends Req<'WRITE'> { fh: FileHandle; offset: number; size: number; writeFlags: number; lockOwner: bigint; flags: number; /** view into the request buffer */ data: Buffer }
export interface StatfsRequest extends Req<'STATFS'> {}
export interface ReleaseRequest extends Req<'RELEASE'> { fh: FileHandle; flags: number; releaseFlags: number; lockOwner: bigint }
export interface FsyncRequest extends Req<'FSYNC'> { fh: FileHandle; fsyncFlags: number }
export interface SetxattrRequest extends Req<'SETXATTR'>, WireName { size: number; flags: number; setxattrFlags: number; value: Buffer }
export interface GetxattrRequest extends Req<'GETXATTR'>, WireName { size: number }
export interface ListxattrRequest extends Req<'LISTXATTR'> { size: number }
export interface RemovexattrRequest extends Req<'REMOVEXATTR'>, WireName {}
export interface FlushRequest extends Req<'FLUSH'> { fh: FileHandle; lockOwner: bigint }
export interface OpendirRequest extends Req<'OPENDIR'> { flags: number; openFlags: number }
export interface ReaddirRequest extends Req<'READDIR'> { fh: FileHandle; offset: bigint; size: number }
export interface ReaddirplusRequest extends Req<'READDIRPLUS'> { fh: FileHandle; offset: bigint; size: number }
export interface ReleasedirRequest extends Req<'RELEASEDIR'> { fh: FileHandle; flags: number; releaseFlags: number; lockOwner: bigint }
export interface FsyncdirRequest extends Req<'FSYNCDIR'> { fh: FileHandle; fsyncFlags: number }
export interface GetlkRequest extends Req<'GETLK'> { fh: FileHandle; owner: bigint; lk: FileLock; lkFlags: number }
export interface SetlkRequest extends Req<'SETLK'> { fh: FileHandle; owner: bigint; lk: FileLock; lkFlags: number; /** true for SETLKW */ sleep: boolean }
export interface AccessRequest extends Req<'ACCESS'> { mask: number }
/** open(O_CREAT). `mode` is already masked by the caller's umask unless DONT_MASK was negotiated (see MknodRequest). */
export interface CreateRequest extends Req<'CREATE'>, WireName { flags: number; mode: number; umask: number; openFlags: number; ext: RequestExtensions }
export interface TmpfileRequest extends Req<'TMPFILE'>, WireName { flags: number; mode: number; umask: number; openFlags: number; ext: RequestExtensions }
export interface InterruptRequest extends Req<'INTERRUPT'> { target: RequestId }
export interface BmapRequest extends Req<'BMAP'> { block: number; blocksize: number }
export interface DestroyRequest extends Req<'DESTROY'> {}
export interface IoctlRequest extends Req<'IOCTL'> { fh: FileHandle; flags: number; cmd: number; arg: bigint; inSize: number; outSize: number; data: Buffer }
export interface PollRequest extends Req<'POLL'> { fh: FileHandle; kh: bigint; flags: number; events: number }
export interface NotifyReplyRequest extends Req<'NOTIFY_REPLY'> { offset: number; size: number; data: Buffer }
export interface FallocateRequest extends Req<'FALLOCATE'> { fh: FileHandle; offset: number; length: number; mode: number }
export interface LseekRequest extends Req<'LSEEK'> { fh: FileHandle; offset: number; whence: number }
/** COPY_FILE_RANGE and COPY_FILE_RANGE_64 both decode to this; `wide` tells which reply to send. */
export interface CopyFileRangeRequest extends Req<'COPY_FILE_RANGE'> { fhIn: FileHandle; offIn: number; nodeidOut: NodeId; fhOut: FileHandle; offOut: number; len: number; flags: bigint; wide: boolean }
export interface SyncfsRequest extends Req<'SYNCFS'> {}
export interface StatxRequest extends Req<'STATX'> { getattrFlags: number; fh: FileHandle; sxFlags: number; sxMask: number }
export interface SetupmappingRequest extends Req<'SETUPMAPPING'> { fh: FileHandle; foffset: number; len: number; flags: bigint; moffset: number }
export interface RemovemappingRequest extends Req<'REMOVEMAPPING'> { mappings: { moffset: number; len: number }[] }
/** An opcode this codec does not know: the session answers ENOSYS. */
export interface UnknownRequest extends Req<'UNKNOWN'> {}

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
