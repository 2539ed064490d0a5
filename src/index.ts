/**
 * fusekit: Linux filesystems in TypeScript over /dev/fuse.
 *
 * Start with `Filesystem` (the FUSE primer and every operation's contract)
 * and `mount()`.
 *
 * @packageDocumentation
 */

// Mounting and serving.
export { mount, forceUnmount, unmountAt, canMountDirectly, MountError } from './session/mount.js';
export type { FuseMount, MountOptions, MountMethod } from './session/mount.js';
export { Session, DEFAULT_REQUEST_DEADLINE_MS, DEFAULT_SLOW_REQUEST_MS } from './session/session.js';
export type { SessionOptions } from './session/session.js';
export { SessionStats } from './session/stats.js';
export { FuseChannel } from './transport/channel.js';
export type { Channel, ChannelEnd, ChannelHandlers, ChannelOptions, RequestBuffer } from './transport/channel.js';
export { stderrLogger } from './fs/logger.js';
export type { Logger } from './fs/logger.js';

// Writing a filesystem.
export { FuseError, Errno, errnoName, errnoNumber, errnoFromError } from './fs/errors.js';
export { attrFromStats, makeAttr, nodeId } from './fs/attr.js';
export type { AttrInit } from './fs/attr.js';
export type {
  Filesystem, HandlerResult, RequestContext, InitInfo, Notifier, InvalEntryOptions, RetrieveOptions, OpenReply, CreateReply, IoctlReply,
  DirentSink, DirentPlusSink, IoMode,
} from './fs/filesystem.js';
export type {
  NodeId, FileHandle, BackingId, RequestId, WireName, RequestExtensions, Timespec, Attr, EntryOut, AttrOut,
  StatfsOut, FileLock, Statx, StatxOut,
  LookupRequest, GetattrRequest, SetattrRequest, ReadlinkRequest, SymlinkRequest, MknodRequest, MkdirRequest,
  UnlinkRequest, RmdirRequest, RenameRequest, LinkRequest, OpenRequest, ReadRequest, WriteRequest, StatfsRequest,
  ReleaseRequest, FsyncRequest, SetxattrRequest, GetxattrRequest, ListxattrRequest, RemovexattrRequest,
  FlushRequest, OpendirRequest, ReaddirRequest, ReaddirplusRequest, ReleasedirRequest, FsyncdirRequest,
  GetlkRequest, SetlkRequest, AccessRequest, CreateRequest, TmpfileRequest, BmapRequest, IoctlRequest,
  PollRequest, FallocateRequest, LseekRequest, CopyFileRangeRequest, SyncfsRequest, StatxRequest,
} from './abi/types.js';
export {
  ROOT_ID, Fopen, Fattr, InitFlag, RenameFlag, GETATTR_FH, ReadFlag, WriteFlag, ReleaseFlag, FSYNC_FDATASYNC,
  OPEN_KILL_SUIDGID, LK_FLOCK, POLL_SCHEDULE_NOTIFY, UNIQUE_RESEND,
} from './abi/constants.js';
export {
  S_IFMT, S_IFDIR, S_IFREG, S_IFLNK, S_IFIFO, S_IFCHR, S_IFBLK, S_IFSOCK,
  DT_UNKNOWN, DT_FIFO, DT_CHR, DT_DIR, DT_BLK, DT_REG, DT_LNK, DT_SOCK,
} from './sys/constants.js';

// Passthrough.
export type { PassthroughConfig, PassthroughPolicy, PassthroughStats, PassthroughManager } from './passthrough/manager.js';

// The mirror.
export { MirrorFilesystem } from './mirror/mirror.js';
export type { DescriptorStats, MirrorOptions } from './mirror/mirror.js';
export type { WatchStats } from './mirror/watch.js';
export type { OffloadPolicy, OffloadStats } from './mirror/offload.js';
export type { ListingAttributesPolicy, ListingStats } from './mirror/listing-attrs.js';
export { PathAdapter, mountPaths } from './path/index.js';
export type { PathOptions, PathMount, PathMountOptions, PathFilesystem, PathAttr, PathDirent, PathTime, PathResult, PathOpenResult, CreateContext } from './path/index.js';
