/**
 * fusekit: Linux filesystems in TypeScript over /dev/fuse.
 *
 * Start with `Filesystem` (src/fs/filesystem.ts: the FUSE primer and every
 * operation's contract) and `mount()`.
 */
export { mount, forceUnmount, MountError } from './session/mount.js';
export type { FuseMount, MountConfig } from './session/mount.js';
export { Session } from './session/session.js';
export type { SessionOptions } from './session/session.js';
export { SessionStats } from './session/stats.js';
export { FuseError, Errno, errnoName, errnoOf } from './fs/errors.js';
export type * from './fs/filesystem.js';
export { ROOT_ID, Fopen, Fattr, InitFlag, RenameFlag, GETATTR_FH } from './abi/constants.js';
export type * from './abi/types.js';
export {
  S_IFMT, S_IFDIR, S_IFREG, S_IFLNK, S_IFIFO, S_IFCHR, S_IFBLK, S_IFSOCK,
  DT_UNKNOWN, DT_FIFO, DT_CHR, DT_DIR, DT_BLK, DT_REG, DT_LNK, DT_SOCK,
} from './sys/constants.js';
export { MirrorFilesystem } from './mirror/mirror.js';
export type { MirrorOptions } from './mirror/mirror.js';
export { PathAdapter, mountPaths } from './path/index.js';
export type { PathOptions, PathMount, PathMountOptions, PathFilesystem, PathAttr, PathDirent, PathTime, PathResult, PathOpenResult, CreateContext } from './path/index.js';
