/**
 * `MirrorFilesystem`: a complete mirror of a source directory.
 *
 * Every inode is a file handle with O_PATH descriptors reopened from it on
 * demand, or an O_PATH descriptor held for its life (see inodes.ts); every name
 * operation is an *at call relative to the parent's descriptor with O_NOFOLLOW, so nothing
 * the mirror does can leave the source tree: the kernel never sends `..` (no
 * export support is negotiated) and symlinks are returned, never followed by
 * the server. Open files are real descriptors reopened through
 * /proc/self/fd/N, and the descriptor itself is the file handle.
 *
 * Metadata calls are quick synchronous system calls on the serving thread,
 * except lookups, attribute reads and listings while the source measures slow
 * (see offload.ts), which then run on libuv's pool; data reads and writes and
 * fsync always run there, so a slow disk never stalls the other requests.
 * From INIT on, one worker thread of its own closes the descriptors of
 * inodes the kernel forgets while requests keep the serving thread busy (see
 * sys/background-close.ts).
 */
import * as nodefs from 'node:fs';
import { constants as osConstants } from 'node:os';
import type {
  AccessRequest, CopyFileRangeRequest, CreateRequest, FallocateRequest, FsyncRequest, GetattrRequest,
  GetxattrRequest, LinkRequest, ListxattrRequest, LookupRequest, LseekRequest, MkdirRequest, MknodRequest,
  OpenRequest, ReadRequest, ReaddirRequest, ReaddirplusRequest, ReleaseRequest,
  RemovexattrRequest, RenameRequest, RmdirRequest, SetattrRequest, SetxattrRequest,
  StatxRequest, SymlinkRequest, TmpfileRequest, UnlinkRequest, WriteRequest, FsyncdirRequest,
} from '../abi/types.js';
import { Fattr, Fopen, FSYNC_FDATASYNC, InitFlag, OPEN_KILL_SUIDGID, SETXATTR_ACL_KILL_SGID, WriteFlag } from '../abi/constants.js';
import type {
  AttrOut, CreateReply, DirentPlusSink, DirentSink, EntryOut, Filesystem, InitInfo, NodeId, Notifier, OpenReply, RequestContext, StatfsOut, StatxOut,
} from '../fs/filesystem.js';
import { Errno, FuseError } from '../fs/errors.js';
import { stderrLogger } from '../fs/logger.js';
import type { Logger } from '../fs/logger.js';
import { isDotOrDotDot } from '../abi/decode.js';
import {
  open as sysOpen, openat, tryClose, close, fstatat, fchownat, fchmod, fchmodat, fchmodat2, truncate, ftruncate,
  utimensat, futimens, readlinkat, mkdirat, mknodat, symlinkat, unlinkat, renameat2, linkat, fstatfs,
  getdents64, parseDirents, tryGetxattr, tryFgetxattr, setxattr, fsetxattr, listxattr, flistxattr,
  removexattr, fremovexattr, fallocate, dupCloexec, fstatatOnPool, openatOnPool, getdents64OnPool,
  copyFileRange, lseek, geteuid, getegid, tryFstatat, tryFaccessat, emptyStat, fstat, statx, getNofileLimit,
} from '../sys/index.js';
import type { Stat } from '../sys/index.js';
import {
  O_PATH, O_NOFOLLOW, O_CLOEXEC, O_DIRECTORY, O_RDONLY, O_ACCMODE, O_DIRECT, O_CREAT, O_EXCL, O_TMPFILE, AT_EMPTY_PATH,
  AT_SYMLINK_NOFOLLOW, AT_REMOVEDIR, AT_FDCWD, AT_EACCESS, AT_STATX_FORCE_SYNC, AT_STATX_DONT_SYNC, STATX_BASIC_STATS, UTIME_NOW, UTIME_OMIT, S_IFMT, S_IFDIR, S_IFLNK, S_IFREG, S_ISGID, S_ISUID, S_ISVTX, S_IXGRP, SEEK_SET,
  RENAME_EXCHANGE, RENAME_NOREPLACE,
} from '../sys/constants.js';
import { InodeTable, procPath } from './inodes.js';
import type { MirrorInode } from './inodes.js';
import { SourceWatcher } from './watch.js';
import { RecentEvents, SourceLatencies } from './offload.js';
import { ListingAttributes } from './listing-attrs.js';
import type { ListingAttributesPolicy, ListingStats } from './listing-attrs.js';
import { DirectoryStreams, type DirectoryStream } from './dirstreams.js';
import type { OffloadPolicy, OffloadStats, SourceLatency } from './offload.js';
import type { WatchStats } from './watch.js';

const E = osConstants.errno;
const EMPTY = '';
const STAT_SELF = AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW;
/** The xattr namespace only CAP_SYS_ADMIN lists. */
const TRUSTED = Buffer.from('trusted.');
/** Of the last 16 LOOKUPs, how many must have found new inodes for the next to open its name without a stat first. */
const NEW_LOOKUPS_OPEN_FIRST = 12;
/** Descriptors kept open, at most, for inodes held by file handle. */
const MAX_CACHED_DESCRIPTORS = 16384;
/** Descriptors left free beyond those the process holds at INIT, for ones that come and go. */
const TRANSIENT_DESCRIPTORS = 16;
/** The least room the mirror plans with, however low the limit (below it, EMFILE comes early). */
const MIN_DESCRIPTOR_ROOM = 32;
/** How long a lookup that found no descriptor left waits for FORGETs to free one before it fails with EMFILE. */
const OUT_OF_DESCRIPTORS_WAIT_MS = 250;

/** The stats file's `descriptors` section: how a mirror stays within the descriptor limit. */
export interface DescriptorStats {
  /** How new inodes on SRC's root filesystem are held: by file handle (no descriptor each) or by descriptor. */
  heldBy: 'handle' | 'descriptor';
  /** Descriptors held now: inodes (known, cached or waiting to be closed), open files and directory streams. */
  held: number;
  /** The mirror's share of the descriptor limit, from INIT on (null before): the limit less what the process held then and a reserve; the kernel is asked to prune past 85% of it. */
  room: number | null;
  /** Prunes asked of the kernel (NOTIFY_PRUNE), each answered with FORGETs. */
  prunes: number;
  /** Lookups, listings and opens that found no descriptor left: served once FORGETs freed one (`waited`), or answered EMFILE after 250 ms (`failed`). */
  outOfDescriptors: {
    /** Served once FORGETs freed a descriptor. */
    waited: number;
    /** Answered EMFILE: none came free in time. */
    failed: number;
  };
}

/**
 * How the mirror behaves. One thing it does to the whole process, whatever
 * the options: **it owns the process umask.** The kernel hands it each
 * caller's umask unapplied (DONT_MASK) so that the source filesystem applies
 * it, or a default ACL in the source overrides it, exactly as for a local
 * caller; to do that the mirror sets the process umask to 0 at INIT and to
 * each creating caller's umask before the create. Files the host program
 * creates while a mirror is mounted in it are therefore created under some
 * caller's umask: pass an explicit mode to such creates, or run the mirror in
 * a process of its own (as `fusekit mirror` does).
 */
export interface MirrorOptions {
  /** Seconds the kernel may cache names and attributes (default 1). Longer is faster; shorter shows changes made in the source sooner. */
  entryTimeout?: number;
  /** Seconds the kernel may cache attributes (default 1). */
  attrTimeout?: number;
  /** Seconds to cache "no such file" (default 0). */
  negativeTimeout?: number;
  /**
   * The mount checks permissions in the kernel (default_permissions): then also
   * enforce the source's POSIX ACLs. Costs a GETATTR of the parent per create
   * and unlink, so it is for mounts other users can reach.
   */
  enforcePermissions?: boolean;
  /**
   * Answer STATX with the source's statx (default false), which gives callers
   * the birth time. It costs a round trip: the kernel learns no birth time from
   * LOOKUP, CREATE or GETATTR, so while STATX is answered every first `statx`
   * asking for it (Node's `fs.stat` always does) sends a STATX after the
   * LOOKUP. Without it the kernel answers `statx` from the attributes it
   * cached and reports no birth time (`stx_mask` without STATX_BTIME).
   */
  statx?: boolean;
  /**
   * Hold inodes by file handle where the process may (CAP_DAC_READ_SEARCH)
   * and the source's filesystem gives handles (default true): the kernel may
   * then cache as many inodes as its memory allows, with a bounded number of
   * descriptors open. False, or without the capability: one descriptor per
   * inode the kernel knows, and the kernel is asked to forget inodes near the
   * descriptor limit. See inodes.ts.
   */
  fileHandles?: boolean;
  /** Where the mirror's own warnings go (default: stderr). */
  logger?: Logger;
  /**
   * Watch the source for changes made in it directly (inotify on the
   * directories the kernel knows, see watch.ts) and invalidate exactly what
   * the kernel cached. The cache timeouts then default to `WATCH_TIMEOUT`
   * (an hour) instead of 1 s, and negative entries are cached as long.
   *
   * - `true`: watch. If the source cannot be watched (a kernel before
   *   protocol 7.44, no inotify instance left, the watch limit reached) the
   *   mirror logs it once and falls back to the timeouts it has without
   *   `watch`.
   * - `'auto'`: watch where inotify sees every change: the source is on a
   *   local filesystem (ext2/3/4, xfs, btrfs, tmpfs, f2fs, bcachefs, vfat,
   *   exfat; not NFS, SMB, FUSE, overlayfs or a cluster filesystem, whose
   *   changes made elsewhere raise no event) and the kernel has protocol 7.44.
   *   Elsewhere the 1 s timeouts apply, without a warning.
   * - `false`: do not watch; names and attributes are cached for 1 s.
   *
   * Either way, what lies on another filesystem mounted inside the source
   * that inotify cannot see in full, and the attributes of files with more
   * than one link (a change through a link in a directory the kernel does
   * not know raises no event where the mirror watches), get the timeouts of
   * an unwatched mirror. Default false here; `fusekit mirror` uses `'auto'`
   * unless told `--watch`, `--no-watch` or `-o exclusive`.
   */
  watch?: boolean | 'auto';
  /**
   * Which source calls run on libuv's thread pool instead of the serving
   * thread, so that on a slow source (a network filesystem, another FUSE
   * mount) one client's wait does not hold up the others. Default `auto`:
   * once the source measures slow. See {@link OffloadPolicy}. The pool has 4
   * threads unless the environment variable UV_THREADPOOL_SIZE says more
   * (`fusekit mirror` sets 16 when it is unset).
   */
  offload?: OffloadPolicy;
  /**
   * Which listing replies carry each entry's attributes (an inode the kernel
   * keeps, at the price of an open and a stat per entry). Default
   * `adaptive`: those made while callers are seen to stat the names they list
   * (most recent lookups find new files); the others give names and types
   * alone, and the kernel looks up the names it needs. `kernel`: the kernel's
   * rule (READDIRPLUS_AUTO): the first reply of every listing, and later ones
   * after a name of that directory was looked up. See `listing-attrs.ts`.
   */
  readdirplus?: ListingAttributesPolicy;
}

/** The cache timeout, in seconds, for names, attributes and negative entries when the mirror watches its source. */
export const WATCH_TIMEOUT = 3600;

/**
 * statfs f_type of the filesystems whose every change raises an inotify event
 * on this machine (local ones): ext2/3/4, xfs, btrfs, tmpfs, ramfs, f2fs,
 * bcachefs, vfat/msdos, exfat. Network, FUSE, overlay and cluster
 * filesystems are missing on purpose: changes made through another machine,
 * server or layer raise none.
 */
const LOCAL_FILESYSTEMS = new Set([0xef53, 0x58465342, 0x9123683e, 0x01021994, 0x858458f6, 0xf2f52010, 0xca451a4e, 0x4d44, 0x2011bab0]);

/** Whether inotify sees every change on the filesystem of `fd` (see LOCAL_FILESYSTEMS). */
function onLocalFilesystem(fd: number): boolean {
  try {
    return LOCAL_FILESYSTEMS.has(fstatfs(fd).type);
  } catch {
    return false;
  }
}

/**
 * The flagship filesystem: a complete mirror of the directory `source`, with
 * file data in kernel passthrough where the session allows it (see this
 * module's comment for how it stays inside the source tree).
 */
export class MirrorFilesystem implements Filesystem {
  /**
   * - HANDLE_KILLPRIV_V2: the mirror clears set-user-ID/set-group-ID bits itself
   *   where the kernel flags it, so the kernel can skip its per-write
   *   security.capability probe (one GETXATTR round trip per write(2), which
   *   cost passthrough writes ~40%).
   * - POSIX_ACL (with enforcePermissions): the kernel enforces the source's
   *   ACLs (system.posix_acl_*, passed through as xattrs); without it a
   *   named-user entry that denies access would be ignored and the "other"
   *   bits would let that user in.
   * - DONT_MASK: the caller's umask reaches the mirror unapplied and the source
   *   filesystem applies it, or ignores it under a default ACL, as it would
   *   for a local caller.
   * - CACHE_SYMLINKS: the kernel keeps a symlink's target in its page cache
   *   instead of sending READLINK on every resolution. A target never changes
   *   in place (replacing a link makes a new inode, and so a new node id), so
   *   the cached one cannot go stale.
   */
  readonly initFlags: bigint;

  /**
   * Every inode the kernel knows, by node id and by the source's device and inode number.
   * @internal
   */
  readonly inodes: InodeTable;
  /** The cache timeouts in force: long with a working watcher, else those without one (see `watchUnavailable`). */
  private entryTimeout: number;
  private attrTimeout: number;
  private negativeTimeout: number;
  /** The timeouts to fall back to if the source cannot be watched after all. */
  private readonly unwatchedTimeouts: [number, number, number];
  /** Directory streams kept open from one READDIR to the next. */
  private readonly dirStreams = new DirectoryStreams();
  /** Which recent LOOKUPs found an inode new to the table. */
  private readonly newLookups = new RecentEvents();
  /** Which listing replies carry attributes, and how many did. */
  private readonly listingAttrs: ListingAttributes;
  /** How long source calls take, by kind, and so where they are made. */
  private readonly latency: SourceLatencies;
  /** Descriptors open for the kernel's file handles, and the inode each is on. */
  private readonly files = new Map<number, MirrorInode>();
  /** With `watch`: the handles open for writing, and how many each inode has (its writes through the mount are known to the kernel). */
  private readonly writableFiles = new Set<number>();
  private readonly writers = new Map<number, number>();
  /** Linux before 6.6 has no fchmodat2: chmod by an O_PATH descriptor then goes through /proc. */
  private noFchmodat2 = false;
  private readonly serverUid = geteuid();
  private readonly serverGid = getegid();
  /**
   * Whether new files can be given to their caller. Only with CAP_CHOWN: an
   * ordinary user's mirror (allow_other lets others create through it) keeps
   * what it creates, as the user's own files, instead of failing the create.
   */
  private readonly givesNewFilesAway = holdsCapChown();
  private readonly xattrScratch = Buffer.allocUnsafeSlow(64 * 1024);
  /** Filled by each lookup; handlers are synchronous, so the reply is encoded before the next lookup reuses it. */
  private readonly lookupStat = emptyStat();
  /** Filled for GETATTR and SETATTR replies, on the same terms. */
  private readonly replyStat = emptyStat();
  private notify: Notifier | undefined;
  /** Present with the `watch` option, from INIT on. */
  private watcher: SourceWatcher | undefined;
  private readonly watchSource: boolean;
  /** `watch: 'auto'`: a source that cannot be watched is not worth a warning. */
  private readonly watchQuietly: boolean;
  /** Whether the source's root lies on a filesystem whose every change raises an inotify event. */
  private readonly rootOnLocalFilesystem: boolean;
  /** The source root's device: inodes on it are watched alike. */
  private readonly rootDev: number;
  /** Other devices mounted inside the source, by whether inotify sees every change on them. */
  private readonly localDevs = new Map<number, boolean>();
  /** Descriptor counts at which to start pruning, and down to which (from the limit at INIT). */
  private fdHighWater = Infinity;
  private fdLowWater = 0;
  /** Descriptors the mirror may hold: the limit less what the process held at INIT and a reserve. */
  private fdRoom = Infinity;
  /** New descriptors after which a prune is asked again at once, without waiting 10 ms for the last one's FORGETs. */
  private pruneStep = 128;
  private lastPrune = 0;
  private lastPruneLevel = 0;
  private pruneRefused = false;
  /** For the stats file: prunes asked, and requests that found no descriptor left. */
  private prunesAsked = 0;
  private readonly outOfDescriptors = { waited: 0, failed: 0 };
  /** The kernel hands us the caller's umask (DONT_MASK) instead of applying it. */
  private umaskInServer = false;
  /** The process umask in force (set at INIT, then to each creating caller's). */
  private umaskNow = 0;
  private readonly logger: Logger;

  /**
   * Opens `source` (an O_PATH descriptor held for the mirror's life); throws if it cannot.
   * @param source the directory to mirror
   * @param options cache timeouts, permission enforcement and logging
   */
  constructor(readonly source: string, options: MirrorOptions = {}) {
    this.logger = options.logger ?? stderrLogger;
    this.latency = new SourceLatencies(options.offload ?? 'auto');
    const fd = sysOpen(source, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
    const st = fstatat(fd, EMPTY, STAT_SELF);
    this.rootDev = st.dev;
    this.watchQuietly = options.watch === 'auto';
    this.rootOnLocalFilesystem = onLocalFilesystem(fd);
    this.watchSource = options.watch === true || (options.watch === 'auto' && this.rootOnLocalFilesystem);
    this.entryTimeout = options.entryTimeout ?? (this.watchSource ? WATCH_TIMEOUT : 1);
    this.attrTimeout = options.attrTimeout ?? (this.watchSource ? WATCH_TIMEOUT : 1);
    this.negativeTimeout = options.negativeTimeout ?? (this.watchSource ? WATCH_TIMEOUT : 0);
    this.unwatchedTimeouts = [options.entryTimeout ?? 1, options.attrTimeout ?? 1, options.negativeTimeout ?? 0];
    this.statx = options.statx ? this.statxFromSource.bind(this) : undefined;
    this.initFlags = InitFlag.HANDLE_KILLPRIV_V2 | InitFlag.DONT_MASK | InitFlag.CACHE_SYMLINKS | (options.enforcePermissions ? InitFlag.POSIX_ACL : 0n);
    this.listingAttrs = new ListingAttributes(options.readdirplus ?? 'adaptive');
    this.inodes = new InodeTable(fd, st.dev, st.ino, S_IFDIR);
    if (options.fileHandles ?? true) {
      const mountFd = openat(fd, '.', O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
      if (!this.inodes.useFileHandles(mountFd)) tryClose(mountFd);
    }
  }

  /**
   * Refuses a mountpoint that is the source or lies inside it: a lookup of
   * the mountpoint's name would open the mount itself, and the serving
   * thread would wait on its own mount for ever.
   */
  mountpointProblem(mountpoint: string): string | undefined {
    const src = canonicalPath(this.source);
    if (src === undefined) return undefined;
    if (mountpoint === src) return `the mountpoint ${mountpoint} is the source itself; mount the mirror somewhere else`;
    if (mountpoint.startsWith(src === '/' ? '/' : `${src}/`)) {
      return `the mountpoint ${mountpoint} lies inside the source ${src}: the mirror would have to look itself up and wait on itself; mount it outside the source`;
    }
    return undefined;
  }

  /** Descriptors the mirror holds for open files (for leak checks; directories hold none between requests). */
  get openHandles(): number {
    return this.files.size;
  }

  /**
   * Every inode the kernel knows costs a descriptor, and the kernel keeps
   * inodes cached until memory runs short: a walk over a large tree would run
   * the process out of descriptors (EMFILE). Past 85% of the mirror's share
   * of the limit (`fdRoom`), ask the kernel to drop the least recently used
   * unused nodes (NOTIFY_PRUNE, 7.45); it answers with FORGETs, which close
   * their descriptors.
   */
  private relieveDescriptorPressure(outOfDescriptors = false): void {
    const inUse = this.descriptorsHeld;
    if (!this.notify || inUse < this.fdHighWater) return;
    // Ask again once the last request's FORGETs had time to arrive, or sooner if
    // lookups keep outrunning them (a fast walk adds thousands of inodes a second),
    // or at once when a lookup found none left (no new inode would ask again).
    const now = performance.now();
    if (!outOfDescriptors && now - this.lastPrune < 10 && inUse < this.lastPruneLevel + this.pruneStep) return;
    this.lastPrune = now;
    this.lastPruneLevel = inUse;
    // Inodes in use cannot be pruned; those with open files can do without their own descriptor.
    if (this.files.size > 0) this.inodes.spareOpenInodeDescriptors();
    const r = this.notify.prune(this.inodes.leastRecentlyUsed(Math.max(1024, inUse - this.fdLowWater)));
    if (r >= 0) this.prunesAsked++;
    if (r < 0 && !this.pruneRefused) {
      this.pruneRefused = true;
      this.logger.warn(`fusekit: ${inUse} inodes held and the kernel cannot prune (errno ${-r}); lookups may fail with EMFILE near ${this.fdRoom} inodes`);
    }
  }

  /** Inodes (known or waiting to be closed), open files and directory streams. */
  private get descriptorsHeld(): number {
    return this.inodes.descriptors + this.files.size + this.dirStreams.size;
  }

  /** Past the prune threshold: spend no descriptor that is not needed right now. */
  private descriptorsTight(): boolean {
    return this.descriptorsHeld >= this.fdHighWater;
  }

  init(info: InitInfo, notify: Notifier): void {
    this.notify = notify;
    // First: the watcher's descriptors (inotify, the mount table's) are the process's, not the mirror's share.
    if (this.watchSource && !this.watcher) {
      // Losing events must be answerable by invalidating every name at once (NOTIFY_INC_EPOCH, 7.44).
      if (info.minor < 44) {
        this.watchUnavailable(`the kernel's FUSE protocol 7.${info.minor} has no NOTIFY_INC_EPOCH (7.44, Linux 6.16)`, this.watchQuietly);
      } else {
        try {
          this.watcher = new SourceWatcher(
            this.inodes,
            notify,
            this.logger,
            (why, directory) => (directory === undefined ? this.watchUnavailable(why) : this.directoryUnwatchable(directory, why)),
            (inode) => this.writers.has(inode.nodeid),
            canonicalPath(this.source),
          );
          this.watcher.watchDir(this.inodes.root);
          if (!this.watchQuietly && !this.rootOnLocalFilesystem) {
            this.logger.warn('fusekit: --watch: SRC is not on a local filesystem; changes made to it elsewhere (another machine, server or layer) raise no event and show only after the cache timeouts');
          }
        } catch (err) {
          this.watchUnavailable(`inotify: ${(err as Error).message}`);
        }
      }
    }
    // The mirror's share of the limit: what the process holds already (Node
    // itself about 25, the device, the watcher, the user's own files) and a
    // reserve for descriptors that come and go (worker threads' event loops,
    // module loads, duplicates for calls on the pool) are not the mirror's.
    const limit = getNofileLimit().soft;
    const share = limit - (openDescriptorCount() - this.descriptorsHeld) - TRANSIENT_DESCRIPTORS;
    // A limit so low that the share is below the floor: every descriptor is
    // the mirror's; the mount table's two go back (mounts made in SRC then
    // show after the timeouts, as without a watch).
    if (share < MIN_DESCRIPTOR_ROOM) this.watcher?.stopWatchingMounts();
    const room = Math.max(MIN_DESCRIPTOR_ROOM, share);
    // Inodes held by handle reopen their descriptors on demand: half the room
    // keeps those in use open (a walk of a tree that size closes and reopens
    // none) and leaves the rest, below the prune threshold, for open files.
    this.inodes.cachedDescriptors = Math.min(MAX_CACHED_DESCRIPTORS, Math.floor(room / 2));
    this.inodes.startBackgroundClosing((err) => this.logger.warn(`fusekit: the thread that closes descriptors of forgotten inodes is not running (${err.message}); the serving thread closes them between requests`));
    this.fdHighWater = Math.floor(room * 0.85);
    this.fdLowWater = Math.floor(room * 0.6);
    this.fdRoom = room;
    this.inodes.closeAtOnceFrom = this.fdHighWater;
    this.dirStreams.maxStreams = Math.max(2, Math.min(this.dirStreams.maxStreams, Math.floor(room / 16)));
    // Lookups between two prunes must not use up what is left above the threshold.
    this.pruneStep = Math.max(1, Math.min(128, Math.floor((room - this.fdHighWater) / 4)));
    // The caller's umask is applied once: by the kernel, or (DONT_MASK) by the
    // source filesystem under the caller's umask, set before each create.
    this.umaskInServer = (info.enabled & InitFlag.DONT_MASK) !== 0n;
    process.umask(0);
  }

  /**
   * The source cannot be watched (entirely): from now on the kernel gets the
   * timeouts the mirror has without `watch`, so that what it caches from the
   * parts no watch covers is as fresh as without one. What it already holds
   * stays watched where it was.
   */
  private watchUnavailable(why: string, quietly = false): void {
    if (this.entryTimeout === this.unwatchedTimeouts[0] && this.attrTimeout === this.unwatchedTimeouts[1]) return;
    [this.entryTimeout, this.attrTimeout, this.negativeTimeout] = this.unwatchedTimeouts;
    if (!quietly) this.logger.warn(`fusekit: cannot watch the source (${why}): caching for ${this.entryTimeout} s as without --watch`);
  }

  /** One directory cannot be watched (the watcher keeps what lies in it on the unwatched timeouts): said once. */
  private directoryUnwatchable(directory: string, why: string): void {
    this.logger.warn(`fusekit: may not watch ${directory} (${why}), nor others like it: what lies in such directories is cached for ${this.unwatchedTimeouts[0]} s`);
  }

  /** Where source calls are made (see {@link MirrorOptions.offload}), and how many went to the pool. */
  get offloadStats(): OffloadStats {
    return this.latency.stats;
  }

  /** Without the `kernel` policy of `readdirplus`, the mirror decides which listing replies carry attributes. */
  get readdirplusAlways(): boolean {
    return !this.listingAttrs.kernelDecides;
  }

  /** How listings were answered: the policy, and READDIRPLUS replies with attributes and with names only. */
  get listingStats(): ListingStats {
    return this.listingAttrs.stats;
  }

  /** What the mirror holds descriptors for, against its share of the limit, and how it kept within it (see {@link DescriptorStats}). */
  get descriptorStats(): DescriptorStats {
    return {
      heldBy: this.inodes.byHandle ? 'handle' : 'descriptor',
      held: this.descriptorsHeld,
      room: Number.isFinite(this.fdRoom) ? this.fdRoom : null,
      prunes: this.prunesAsked,
      outOfDescriptors: { ...this.outOfDescriptors },
    };
  }

  /** The source watcher's counters; undefined without the `watch` option. */
  get watchStats(): WatchStats | undefined {
    return this.watcher?.stats;
  }

  /**
   * Runs a creating system call under the caller's umask, so the source applies
   * it (or a default ACL overrides it). The umask stays set afterwards: callers
   * rarely change theirs, and each change is a system call.
   */
  private withCallerUmask<T>(umask: number, create: () => T): T {
    if (!this.umaskInServer) return create();
    const want = umask & 0o777;
    if (want !== this.umaskNow) {
      process.umask(want);
      this.umaskNow = want;
    }
    return create();
  }

  destroy(): void {
    this.watcher?.close();
    this.dirStreams.clear();
    for (const fd of this.files.keys()) tryClose(fd);
    this.files.clear();
    this.inodes.clear();
  }

  private node(nodeid: number): MirrorInode {
    const inode = this.inodes.get(nodeid);
    // The kernel only names nodes we gave it; anything else is stale.
    if (!inode) throw new FuseError(E.ESTALE);
    return inode;
  }

  /** The entry of `inode` (stat'ed as `st`), looked up in `parent`. */
  private entry(inode: MirrorInode, st: Stat, parent: MirrorInode): EntryOut {
    if (this.watcher) this.watcher.lookedUpIn(parent.nodeid, inode);
    if (this.watcher && inode.type === S_IFDIR) this.watcher.watchDir(inode);
    const seen = this.watcherSees(inode, st.dev);
    return { nodeid: inode.nodeid, generation: 0, entryTimeout: seen ? this.entryTimeout : this.unwatchedTimeouts[0], attrTimeout: this.attrTimeoutOf(inode, st, seen), attr: st };
  }

  /**
   * Whether what the kernel caches of `inode` (on device `dev`) may be kept
   * for the timeouts in force: no watcher (they are an unwatched mirror's
   * already), or `inode` lies on the root's filesystem, or on another one
   * mounted inside the source whose changes all raise events (see
   * LOCAL_FILESYSTEMS).
   */
  private watcherSees(inode: MirrorInode, dev: number): boolean {
    if (this.watcher === undefined) return true;
    if (this.watcher.isUnseen(inode.nodeid)) return false;
    if (dev === this.rootDev) return true;
    let local = this.localDevs.get(dev);
    if (local === undefined) {
      local = onLocalFilesystem(inode.fd);
      this.localDevs.set(dev, local);
    }
    return local;
  }

  /**
   * The attribute timeout for `inode` with attributes `st`: the one in force,
   * unless the mirror watches and the watcher may miss a change to it: on a
   * filesystem it does not see in full (`seen` false), or a file with more
   * than one link, changed through a link in a directory the kernel does not
   * know (inotify reports a change to the directory of the name it was made
   * through). Those are cached as without a watcher.
   */
  private attrTimeoutOf(inode: MirrorInode, st: Pick<Stat, 'dev' | 'nlink' | 'mode'>, seen = this.watcherSees(inode, st.dev)): number {
    // Without a watcher the timeout in force is the unwatched one: both answers agree.
    return seen && (st.nlink <= 1 || (st.mode & S_IFMT) === S_IFDIR) ? this.attrTimeout : this.unwatchedTimeouts[1];
  }

  /**
   * Resolves `name` in `parent`, taking one kernel reference on the result. A
   * missing name is routine (cp, compilers and shells probe constantly): it is
   * returned as an Errno, not thrown.
   */
  private lookupIn(parent: MirrorInode, name: Buffer): EntryOut | Errno;
  /** With `onlyKnown`: undefined, and no descriptor spent, when the inode is not in the table yet. */
  private lookupIn(parent: MirrorInode, name: Buffer, onlyKnown: boolean): EntryOut | Errno | undefined;
  private lookupIn(parent: MirrorInode, name: Buffer, onlyKnown = false): EntryOut | Errno | undefined {
    const r = tryFstatat(parent.fd, name, AT_SYMLINK_NOFOLLOW, this.lookupStat);
    if (r < 0) return Errno.of(-r);
    return this.lookupStated(parent, name, this.lookupStat, onlyKnown);
  }

  /** The rest of `lookupIn`, once `name` has been stat'ed into `st`. */
  private lookupStated(parent: MirrorInode, name: Buffer, st: Stat, onlyKnown: boolean): EntryOut | Errno | undefined {
    const inode = this.inodes.find(st.dev, st.ino);
    if (inode && this.inodes.isStill(inode, parent.fd, name, 0)) {
      inode.nlookup++;
      this.inodes.touch(inode);
      return this.entry(inode, st, parent);
    }
    if (onlyKnown && !inode) return undefined;
    // The name may have been replaced since the stat: the descriptor decides.
    // Removed between the stat and the open, it is as missing as a failed stat.
    return this.adoptOrMissing(parent, name);
  }

  /**
   * Opens `name` in `parent` as an inode, taking one kernel reference. For
   * names just created, which are new to the table: no stat by name first.
   */
  private adopt(parent: MirrorInode, name: Buffer): EntryOut {
    return this.adoptOpened(this.openInode(parent, name), parent);
  }

  /** An O_PATH descriptor of `name` in `parent`. Out of descriptors, it asks for a prune first: no new inode would ask again. */
  private openInode(parent: MirrorInode, name: Buffer): number {
    try {
      return openat(parent.fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
    } catch (err) {
      if (outOfDescriptors(err)) this.relieveDescriptorPressure(true);
      throw err;
    }
  }

  /** `adopt` of `fd`, an O_PATH descriptor of a name in `parent` just opened, which becomes the table's or is closed. */
  private adoptOpened(fd: number, parent: MirrorInode): EntryOut {
    let st: Stat;
    try {
      st = fstatat(fd, EMPTY, STAT_SELF);
    } catch (err) {
      tryClose(fd);
      throw err;
    }
    let inode = this.inodes.find(st.dev, st.ino);
    // Held only by a handle, a known inode number may belong to a new file.
    if (inode && (inode.pinned || (this.inodes.takeHandle(st.dev, fd, EMPTY, AT_EMPTY_PATH) && this.inodes.matchesTakenHandle(inode)))) {
      if (!this.inodes.offer(inode, fd)) tryClose(fd);
      inode.nlookup++;
    } else {
      inode = this.inodes.add(fd, st.dev, st.ino, st.mode & S_IFMT, true);
      this.relieveDescriptorPressure();
    }
    return this.entry(inode, st, parent);
  }

  /** `adopt`, with a name that is gone (ENOENT: removed since it was listed or stat'ed) returned as an Errno. */
  private adoptOrMissing(parent: MirrorInode, name: Buffer): EntryOut | Errno {
    try {
      return this.adopt(parent, name);
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return Errno.of(E.ENOENT);
      throw err;
    }
  }

  lookup(req: LookupRequest, ctx: RequestContext): EntryOut | Errno | Promise<EntryOut | Errno> {
    if (this.latency.offload(this.latency.lookup)) return this.lookupOnPool(ctx.nodeid, req.nameBytes);
    const parent = this.node(ctx.nodeid);
    const started = performance.now();
    const known = this.inodes.size;
    // While most lookups find inodes the table lacks (a cold walk, a stat of every
    // file after drop_caches), open the name at once: the stat by name that would
    // find a known inode without opening it then only costs a system call.
    let found: EntryOut | Errno;
    try {
      found = this.newLookups.hits >= NEW_LOOKUPS_OPEN_FIRST ? this.adoptOrMissing(parent, req.nameBytes) : this.lookupIn(parent, req.nameBytes);
    } catch (err) {
      // openInode has asked for a prune already.
      if (!outOfDescriptors(err)) throw err;
      const nodeid = ctx.nodeid;
      return this.onceDescriptorsFree(() => {
        // The kernel holds the parent while it looks a name up in it: still known.
        const again = this.node(nodeid);
        return this.negativeEntryFor(this.lookupIn(again, req.nameBytes), again);
      });
    }
    const isNew = this.inodes.size > known;
    this.newLookups.record(isNew);
    if (!(found instanceof Errno)) this.listingAttrs.lookedUp(found.attr.mode, isNew, started);
    this.latency.lookup.record(performance.now() - started, false);
    return this.negativeEntryFor(found, parent);
  }

  /**
   * `attempt`, which found no descriptor left and asked for a prune (its
   * FORGETs not handled yet, or every inode the kernel held was in use),
   * tried again as FORGETs close descriptors, for up to
   * OUT_OF_DESCRIPTORS_WAIT_MS, before the caller sees EMFILE. Other
   * requests, the FORGETs among them, are served meanwhile.
   */
  private async onceDescriptorsFree<T>(attempt: () => T | Promise<T>): Promise<T> {
    const deadline = performance.now() + OUT_OF_DESCRIPTORS_WAIT_MS;
    for (let pause = 1; ; pause = Math.min(pause * 2, 16)) {
      await new Promise((resolve) => setTimeout(resolve, pause));
      try {
        const done = await attempt();
        this.outOfDescriptors.waited++;
        return done;
      } catch (err) {
        if (outOfDescriptors(err) && performance.now() < deadline) continue;
        if (outOfDescriptors(err)) this.outOfDescriptors.failed++;
        throw err;
      }
    }
  }

  /** `lookup` with its stat by name made on the pool (the rest hits what that call brought into the source's caches). */
  private async lookupOnPool(nodeid: NodeId, name: Buffer): Promise<EntryOut | Errno> {
    const st = emptyStat();
    const r = await this.onPool(nodeid, this.latency.lookup, (fd) => fstatatOnPool(fd, name, AT_SYMLINK_NOFOLLOW, st));
    // The kernel holds the parent while it looks a name up in it: still known.
    const parent = this.node(nodeid);
    const known = this.inodes.size;
    const found = r < 0 ? Errno.of(-r) : (this.lookupStated(parent, name, st, false) as EntryOut | Errno);
    if (!(found instanceof Errno)) this.listingAttrs.lookedUp(found.attr.mode, this.inodes.size > known, performance.now());
    return this.negativeEntryFor(found, parent);
  }

  /** A missing name in `parent` as a negative entry, cached for negativeTimeout (that of an unwatched mirror where the watcher cannot see `parent`), when that is not 0. */
  private negativeEntryFor(found: EntryOut | Errno, parent: MirrorInode): EntryOut | Errno {
    if (found !== Errno.of(E.ENOENT)) return found;
    const timeout = this.watcherSees(parent, parent.dev) ? this.negativeTimeout : this.unwatchedTimeouts[2];
    return timeout > 0 ? { nodeid: 0 as NodeId, generation: 0, entryTimeout: timeout, attrTimeout: 0, attr: emptyStat() } : found;
  }

  /**
   * Runs `call` on a duplicate of `nodeid`'s descriptor (the inode's own may
   * be closed between requests while the call is in flight), records how long
   * it took, and resolves its result: a count or descriptor, or -errno.
   */
  private async onPool(nodeid: NodeId, kind: SourceLatency, call: (fd: number) => Promise<number>): Promise<number> {
    const fd = dupCloexec(this.node(nodeid).fd);
    try {
      return await this.latency.run(kind, () => call(fd));
    } finally {
      tryClose(fd);
    }
  }

  forget(nodeid: NodeId, nlookup: number): void {
    this.inodes.forget(nodeid, nlookup);
    if (this.watcher && !this.inodes.get(nodeid)) this.watcher.forgotten(nodeid);
  }

  idle(busy = false): boolean {
    return this.inodes.closeOneForgotten(busy);
  }

  getattr(_req: GetattrRequest, ctx: RequestContext): AttrOut | Promise<AttrOut> {
    const inode = this.node(ctx.nodeid);
    // Unlinked through the mount with nothing open: what it was when let go.
    const gone = inode.goneStat;
    if (gone) return { attrTimeout: 0, attr: gone };
    if (this.latency.offload(this.latency.getattr)) return this.getattrOnPool(ctx.nodeid);
    const started = performance.now();
    const attr = this.replyStatOf(inode);
    this.latency.getattr.record(performance.now() - started, false);
    return { attrTimeout: this.attrTimeoutOf(inode, attr), attr };
  }

  private async getattrOnPool(nodeid: NodeId): Promise<AttrOut> {
    const attr = emptyStat();
    const r = await this.onPool(nodeid, this.latency.getattr, (fd) => fstatatOnPool(fd, EMPTY, STAT_SELF, attr));
    if (r < 0) throw Errno.of(-r);
    return { attrTimeout: this.attrTimeoutOf(this.node(nodeid), attr), attr };
  }

  /**
   * STATX, when the `statx` option asks for it (see {@link MirrorOptions.statx});
   * otherwise undefined, and the session declines STATX once (ENOSYS), after
   * which the kernel answers statx(2) from its cached attributes.
   */
  readonly statx: ((req: StatxRequest, ctx: RequestContext) => StatxOut) | undefined;

  /** statx(2) beyond GETATTR's fields (birth time, mount id…), straight from the source. */
  private statxFromSource(req: StatxRequest, ctx: RequestContext): StatxOut {
    // Only the sync-type bits of the caller's flags mean anything for the source.
    const sync = req.sxFlags & (AT_STATX_FORCE_SYNC | AT_STATX_DONT_SYNC);
    const inode = this.node(ctx.nodeid);
    const stat = statx(inode.fd, EMPTY, STAT_SELF | sync, req.sxMask | STATX_BASIC_STATS);
    return { attrTimeout: this.attrTimeoutOf(inode, { dev: inode.dev, nlink: stat.nlink, mode: stat.mode }), flags: 0, stat };
  }

  setattr(req: SetattrRequest, ctx: RequestContext): AttrOut {
    const inode = this.node(ctx.nodeid);
    const v = req.valid;
    const fh = v & Fattr.FH ? (req.fh as number) : -1;
    if (v & Fattr.MODE) {
      if (fh >= 0) fchmod(fh, req.mode);
      else if (inode.type === S_IFLNK) throw new FuseError(E.EOPNOTSUPP);
      else this.chmod(inode, req.mode);
    }
    if (v & (Fattr.UID | Fattr.GID)) {
      fchownat(inode.fd, EMPTY, v & Fattr.UID ? req.uid : -1, v & Fattr.GID ? req.gid : -1, STAT_SELF);
    }
    if (v & Fattr.SIZE) {
      if (fh >= 0) ftruncate(fh, req.size);
      else truncate(inode.procPath, req.size);
    }
    if (v & (Fattr.ATIME | Fattr.MTIME | Fattr.ATIME_NOW | Fattr.MTIME_NOW)) {
      const atime = v & Fattr.ATIME_NOW ? { sec: 0, nsec: UTIME_NOW } : v & Fattr.ATIME ? req.atime : { sec: 0, nsec: UTIME_OMIT };
      const mtime = v & Fattr.MTIME_NOW ? { sec: 0, nsec: UTIME_NOW } : v & Fattr.MTIME ? req.mtime : { sec: 0, nsec: UTIME_OMIT };
      if (fh >= 0) futimens(fh, atime, mtime);
      else utimensat(inode.fd, EMPTY, atime, mtime, STAT_SELF);
    }
    // An empty SETATTR is what the kernel sends when it wants set-ID bits gone but
    // leaves it to us (HANDLE_KILLPRIV_V2): a passthrough write by a caller without
    // CAP_FSETID, which the server never sees.
    if (this.watcher) {
      // One inotify event per change made above (a lower bound: killSuidgid's, if any, is left to invalidate).
      if (v & Fattr.MODE) this.watcher.expectAttr(inode);
      if (v & (Fattr.UID | Fattr.GID)) this.watcher.expectAttr(inode);
      if (v & Fattr.SIZE) this.watcher.expectAttr(inode);
      if (v & (Fattr.ATIME | Fattr.MTIME | Fattr.ATIME_NOW | Fattr.MTIME_NOW)) this.watcher.expectAttr(inode);
    }
    const onlyHandles = (v & ~(Fattr.FH | Fattr.LOCKOWNER)) === 0;
    if ((v & Fattr.KILL_SUIDGID && !(v & Fattr.MODE)) || onlyHandles) this.killSuidgid(inode);
    const attr = this.replyStatOf(inode);
    return { attrTimeout: this.attrTimeoutOf(inode, attr), attr };
  }

  /**
   * Clears set-user-ID, and set-group-ID when group-executable, as the VFS does
   * on a write, truncate or chown by a caller without CAP_FSETID. The kernel
   * leaves this to us (HANDLE_KILLPRIV_V2) and the server itself, running as
   * root, would not trigger it in the source filesystem.
   */
  private killSuidgid(inode: MirrorInode): void {
    if (inode.type === S_IFREG) this.clearModeBits(inode, (mode) => (mode & S_ISUID) | (mode & S_IXGRP ? mode & S_ISGID : 0));
  }

  /** Clears the bits `pick` chooses from the inode's current mode, if any. */
  private clearModeBits(inode: MirrorInode, pick: (mode: number) => number): void {
    const mode = fstatat(inode.fd, EMPTY, STAT_SELF).mode;
    const bits = pick(mode);
    if (bits) this.chmod(inode, mode & 0o7777 & ~bits);
  }

  /** chmod of an inode (never a symlink): through an open file if there is one, else by its O_PATH descriptor. */
  private chmod(inode: MirrorInode, mode: number): void {
    const open = inode.openFile;
    if (open >= 0) return fchmod(open, mode);
    if (!this.noFchmodat2) {
      try {
        return fchmodat2(inode.fd, EMPTY, mode, AT_EMPTY_PATH);
      } catch (err) {
        if ((err as { code?: string }).code !== 'ENOSYS') throw err;
        this.noFchmodat2 = true;
      }
    }
    fchmodat(AT_FDCWD, inode.procPath, mode, 0);
  }

  /** Remembers a descriptor opened for a kernel file handle on `inode`. */
  private fileOpened(fd: number, inode: MirrorInode, flags = 0): void {
    this.files.set(fd, inode);
    inode.fileOpened(fd, this.descriptorsTight());
    if (this.watchSource && (flags & O_ACCMODE) !== O_RDONLY) this.writerOpened(fd, inode);
  }

  private writerOpened(fd: number, inode: MirrorInode): void {
    this.writableFiles.add(fd);
    this.writers.set(inode.nodeid, (this.writers.get(inode.nodeid) ?? 0) + 1);
  }

  readlink(_req: unknown, ctx: RequestContext): Buffer {
    return readlinkat(this.node(ctx.nodeid).fd, EMPTY);
  }

  /**
   * New files belong to the caller, as on a local filesystem, when the server
   * may chown (as root); else they stay the server's. Given through `fd`, a
   * descriptor of the object just created (owner, and the group a local
   * create would give it): never by name, which anyone who may write the
   * directory in SRC directly could point elsewhere meanwhile (a symlink or
   * hard link swapped in would have the server chown or chmod another file as
   * root).
   */
  private giveToCaller(parent: MirrorInode, fd: number, ctx: RequestContext): void {
    if (this.isServer(ctx) || !this.givesNewFilesAway) return;
    const gid = this.groupForNew(parent, ctx);
    const before = fstat(fd);
    fchownat(fd, EMPTY, ctx.uid, gid, STAT_SELF);
    // chown clears set-ID bits the caller asked for when creating a file (not a
    // directory). Put back what a local create keeps: set-user-ID (the caller
    // owns the file) and set-group-ID unless the file is group-executable in a
    // group the caller is not in.
    const setid = before.mode & (S_ISUID | S_ISGID);
    if (setid && (before.mode & S_IFMT) === S_IFREG) {
      let keep = setid;
      const fileGid = gid === -1 ? before.gid : gid;
      if (keep & S_ISGID && before.mode & S_IXGRP && fileGid !== ctx.gid && !callerInGroup(ctx.pid, fileGid)) keep &= ~S_ISGID;
      const after = fstat(fd).mode;
      // /proc/self/fd/N names the object itself, whatever its name is now.
      if ((after & (S_ISUID | S_ISGID)) !== keep) fchmodat(AT_FDCWD, procPath(fd), (after & 0o777) | (after & S_ISVTX) | keep, 0);
    }
  }

  /**
   * After mknod, mkdir or symlink by `ctx`: adopts what `name` names now,
   * first giving it to the caller if it is an object this server just made
   * (of `type`, owned by the server, not hard-linked elsewhere). Otherwise
   * something in SRC replaced it in between, and nothing is given away. One
   * descriptor serves both, so the object given away is the one adopted.
   */
  private adoptMade(parent: MirrorInode, name: Buffer, type: number, ctx: RequestContext): EntryOut {
    const fd = this.openInode(parent, name);
    if (!this.isServer(ctx) && this.givesNewFilesAway) {
      try {
        const st = fstat(fd);
        if ((st.mode & S_IFMT) === type && st.uid === this.serverUid && (type === S_IFDIR || st.nlink === 1)) this.giveToCaller(parent, fd, ctx);
      } catch (err) {
        tryClose(fd);
        throw err;
      }
    }
    return this.adoptOpened(fd, parent);
  }

  private isServer(ctx: RequestContext): boolean {
    return ctx.uid === this.serverUid && ctx.gid === this.serverGid;
  }

  /** The inode's attributes in the shared reply Stat (no object per request). */
  private replyStatOf(inode: MirrorInode): Stat {
    const r = tryFstatat(inode.fd, EMPTY, STAT_SELF, this.replyStat);
    if (r < 0) throw Errno.of(-r);
    return this.replyStat;
  }

  /** The group a new file gets: the caller's, or -1 (keep) when a set-group-ID parent passes its own on. */
  private groupForNew(parent: MirrorInode, ctx: RequestContext): number {
    return fstatat(parent.fd, EMPTY, STAT_SELF).mode & S_ISGID ? -1 : ctx.gid;
  }

  mknod(req: MknodRequest, ctx: RequestContext): EntryOut {
    const parent = this.node(ctx.nodeid);
    this.withCallerUmask(req.umask, () => mknodat(parent.fd, req.nameBytes, req.mode, req.rdev));
    this.watcher?.expectEntry(parent, req.nameBytes);
    return this.adoptMade(parent, req.nameBytes, (req.mode & S_IFMT) || S_IFREG, ctx);
  }

  mkdir(req: MkdirRequest, ctx: RequestContext): EntryOut {
    const parent = this.node(ctx.nodeid);
    this.withCallerUmask(req.umask, () => mkdirat(parent.fd, req.nameBytes, req.mode));
    this.watcher?.expectEntry(parent, req.nameBytes);
    return this.adoptMade(parent, req.nameBytes, S_IFDIR, ctx);
  }

  symlink(req: SymlinkRequest, ctx: RequestContext): EntryOut {
    const parent = this.node(ctx.nodeid);
    symlinkat(req.targetBytes, parent.fd, req.nameBytes);
    this.watcher?.expectEntry(parent, req.nameBytes);
    return this.adoptMade(parent, req.nameBytes, S_IFLNK, ctx);
  }

  link(req: LinkRequest, ctx: RequestContext): EntryOut | Errno {
    const inode = this.node(req.oldnodeid);
    const parent = this.node(ctx.nodeid);
    linkat(inode.fd, EMPTY, parent.fd, req.nameBytes, AT_EMPTY_PATH);
    this.watcher?.expectEntry(parent, req.nameBytes);
    return this.lookupIn(parent, req.nameBytes);
  }

  unlink(req: UnlinkRequest, ctx: RequestContext): void {
    const parent = this.node(ctx.nodeid);
    const removed = this.removingName(parent, req.nameBytes);
    unlinkat(parent.fd, req.nameBytes, 0);
    if (removed) this.inodes.releaseIfUnlinked(removed);
    this.watcher?.expectEntry(parent, req.nameBytes);
  }

  rmdir(req: RmdirRequest, ctx: RequestContext): void {
    const parent = this.node(ctx.nodeid);
    unlinkat(parent.fd, req.nameBytes, AT_REMOVEDIR);
    this.watcher?.expectEntry(parent, req.nameBytes);
  }

  rename(req: RenameRequest, ctx: RequestContext): void {
    const from = this.node(ctx.nodeid);
    const to = this.node(req.newdir);
    const removed = req.flags & (RENAME_EXCHANGE | RENAME_NOREPLACE) ? undefined : this.removingName(to, req.newNameBytes);
    renameat2(from.fd, req.nameBytes, to.fd, req.newNameBytes, req.flags);
    if (removed) this.inodes.releaseIfUnlinked(removed);
    if (this.watcher) {
      this.watcher.expectEntry(from, req.nameBytes);
      this.watcher.expectEntry(to, req.newNameBytes);
    }
  }

  /**
   * Tells the inode table that the file `name` names (if any, and not a
   * directory) may lose its last link; returns its inode if the table holds it.
   */
  private removingName(parent: MirrorInode, name: Buffer): MirrorInode | undefined {
    const st = this.lookupStat;
    if (tryFstatat(parent.fd, name, AT_SYMLINK_NOFOLLOW, st) !== 0 || (st.mode & S_IFMT) === S_IFDIR) return undefined;
    return this.inodes.nameRemoved(st.dev, st.ino);
  }

  /** Source descriptors cannot take O_DIRECT (our buffers are not block aligned): the kernel does direct I/O instead. */
  private openFlagsFor(flags: number): { sysFlags: number; openFlags: number } {
    const direct = (flags & O_DIRECT) !== 0;
    return {
      sysFlags: (flags & ~(O_DIRECT | O_NOFOLLOW | O_CREAT)) | O_CLOEXEC,
      openFlags: direct ? Fopen.DIRECT_IO : Fopen.KEEP_CACHE,
    };
  }

  open(req: OpenRequest, ctx: RequestContext): OpenReply | Promise<OpenReply> {
    try {
      return this.openNow(req, ctx);
    } catch (err) {
      if (!outOfDescriptors(err)) throw err;
      this.relieveDescriptorPressure(true);
      return this.onceDescriptorsFree(() => this.openNow(req, ctx));
    }
  }

  private openNow(req: OpenRequest, ctx: RequestContext): OpenReply {
    const inode = this.node(ctx.nodeid);
    const { sysFlags, openFlags } = this.openFlagsFor(req.flags);
    const fd = sysOpen(inode.procPath, sysFlags, 0);
    this.fileOpened(fd, inode, sysFlags);
    if (req.openFlags & OPEN_KILL_SUIDGID) this.killSuidgid(inode);
    return { fh: fd, openFlags, backing: this.backingFor(inode, fstat(fd).mode) };
  }

  /**
   * The inode's own O_PATH descriptor names the source file for passthrough;
   * the session decides if it is used. Set-ID files get none: passthrough
   * writes run with the server's credentials, so nothing would clear their
   * set-ID bits, and their data must pass through the server's WRITE.
   */
  private backingFor(inode: MirrorInode, mode: number): { fd: number } | undefined {
    if (inode.type !== S_IFREG) return undefined;
    if (mode & (S_ISUID | S_ISGID)) return undefined;
    return { fd: inode.fd };
  }

  create(req: CreateRequest, ctx: RequestContext): CreateReply {
    const parent = this.node(ctx.nodeid);
    const { sysFlags, openFlags } = this.openFlagsFor(req.flags);
    // Exclusive, so that only a file this create made is given to the caller:
    // one that appeared in SRC since the kernel's lookup is opened as it is.
    let made = true;
    let fd: number;
    try {
      fd = this.withCallerUmask(req.umask, () => openat(parent.fd, req.nameBytes, sysFlags | O_CREAT | O_EXCL | O_NOFOLLOW, req.mode));
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST' || (req.flags & O_EXCL) !== 0) throw err;
      made = false;
      fd = openat(parent.fd, req.nameBytes, sysFlags | O_NOFOLLOW, 0);
    }
    this.watcher?.expectEntry(parent, req.nameBytes);
    try {
      if (made) this.giveToCaller(parent, fd, ctx);
      const entry = this.adopt(parent, req.nameBytes);
      const inode = this.inodes.get(entry.nodeid)!;
      let st = fstat(fd);
      // Something may rename over the name in the source between the create and
      // the lookup. The descriptor then names another file than the entry: it
      // stays the handle's alone, neither the inode's open file nor its backing.
      const same = st.dev === inode.dev && st.ino === inode.ino;
      this.files.set(fd, inode);
      if (same) inode.fileOpened(fd, this.descriptorsTight());
      if (same && this.watchSource && (sysFlags & O_ACCMODE) !== O_RDONLY) this.writerOpened(fd, inode);
      if (req.openFlags & OPEN_KILL_SUIDGID) {
        this.killSuidgid(inode);
        st = fstat(fd);
      }
      return { entry, open: { fh: fd, openFlags, backing: same ? this.backingFor(inode, st.mode) : undefined } };
    } catch (err) {
      tryClose(fd);
      throw err;
    }
  }

  /** open(O_TMPFILE): a nameless file in the source directory, linkable later through LINK. */
  tmpfile(req: TmpfileRequest, ctx: RequestContext): CreateReply {
    const parent = this.node(ctx.nodeid);
    const { sysFlags, openFlags } = this.openFlagsFor(req.flags);
    const fd = this.withCallerUmask(req.umask, () => openat(parent.fd, '.', (sysFlags & ~O_DIRECTORY) | O_TMPFILE, req.mode));
    let pathFd = -1;
    try {
      this.giveToCaller(parent, fd, ctx);
      const st = fstat(fd);
      pathFd = sysOpen(procPath(fd), O_PATH | O_CLOEXEC, 0);
      const inode = this.inodes.add(pathFd, st.dev, st.ino, S_IFREG);
      this.fileOpened(fd, inode, sysFlags);
      return { entry: this.entry(inode, st, parent), open: { fh: fd, openFlags, backing: this.backingFor(inode, st.mode) } };
    } catch (err) {
      if (pathFd >= 0) tryClose(pathFd);
      tryClose(fd);
      throw err;
    }
  }

  read(req: ReadRequest, _ctx: RequestContext, dest: Buffer): Promise<number> {
    return new Promise((resolve, reject) => {
      nodefs.read(req.fh as number, dest, 0, req.size, req.offset, (err, n) => (err ? reject(err) : resolve(n)));
    });
  }

  write(req: WriteRequest, ctx: RequestContext): Promise<number> {
    if (req.writeFlags & WriteFlag.KILL_SUIDGID) this.killSuidgid(this.node(ctx.nodeid));
    return new Promise((resolve, reject) => {
      nodefs.write(req.fh as number, req.data, 0, req.data.length, req.offset, (err, n) => {
        if (err) return reject(err);
        const inode = this.watcher && n > 0 ? this.files.get(req.fh as number) : undefined;
        if (inode) this.watcher!.expectAttr(inode);
        resolve(n);
      });
    });
  }

  release(req: ReleaseRequest): void {
    const fd = req.fh as number;
    const inode = this.files.get(fd);
    if (!inode) return;
    this.files.delete(fd);
    const kept = inode.fileClosed(fd);
    if (this.writableFiles.delete(fd)) {
      const n = (this.writers.get(inode.nodeid) ?? 1) - 1;
      if (n > 0) this.writers.set(inode.nodeid, n);
      else {
        this.watcher?.readQueued();
        this.writers.delete(inode.nodeid);
      }
    }
    if (!kept) close(fd);
    // The last file of an unlinked inode: its descriptor goes now, not at the FORGET.
    this.inodes.releaseIfUnlinked(inode);
  }

  fsync(req: FsyncRequest): Promise<void> {
    const fd = req.fh as number;
    return new Promise((resolve, reject) => {
      const done = (err: Error | null) => (err ? reject(err) : resolve());
      if (req.fsyncFlags & FSYNC_FDATASYNC) nodefs.fdatasync(fd, done);
      else nodefs.fsync(fd, done);
    });
  }

  // Directories have no open handle: without `opendir` the session declines
  // OPENDIR (ENOSYS) and the kernel stops sending OPENDIR and RELEASEDIR,
  // caches listings in its page cache (FOPEN_CACHE_DIR | FOPEN_KEEP_CACHE)
  // and, with AUTO_INVAL_DATA, drops a listing when the directory's mtime
  // changes, checked once attributes expire. Each READDIR continues the stream
  // the previous one left at the cookie it names, or opens the directory there
  // (see dirstreams.ts).

  fsyncdir(req: FsyncdirRequest, ctx: RequestContext): Promise<void> {
    const fd = openat(this.node(ctx.nodeid).fd, '.', O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    return new Promise<void>((resolve, reject) => {
      const done = (err: Error | null) => (err ? reject(err) : resolve());
      if (req.fsyncFlags & FSYNC_FDATASYNC) nodefs.fdatasync(fd, done);
      else nodefs.fsync(fd, done);
    }).finally(() => tryClose(fd));
  }

  readdir(req: ReaddirRequest, ctx: RequestContext, out: DirentSink): void | Promise<void> {
    return this.listDirectory(ctx.nodeid, req.offset, (name, ino, type, next) => out.add(name, ino, type, next));
  }

  readdirplus(req: ReaddirplusRequest, ctx: RequestContext, out: DirentPlusSink): void | Promise<void> {
    const dir = this.node(ctx.nodeid);
    // Attributes only while callers are seen to stat what they list (listing-attrs.ts).
    const withAttrs = this.listingAttrs.forReply(performance.now());
    return this.listDirectory(ctx.nodeid, req.offset, (name, ino, type, next) => {
      if (!out.fits(name.length)) return false;
      if (!withAttrs || isDotOrDotDot(name)) return out.add(name, nameOnly(ino, type), next);
      const tight = this.descriptorsTight();
      // A name whose inode number the table does not hold is almost always new
      // (a cold walk): open it at once instead of stat'ing it by name first.
      // adopt() still decides by what it opened, so a mount point or a d_ino
      // that differs from st_ino is handled as in lookupIn.
      let entry: EntryOut | Errno | undefined;
      try {
        entry = !tight && !this.inodes.find(dir.dev, ino) ? this.adoptOrMissing(dir, name) : this.lookupIn(dir, name, tight);
      } catch (err) {
        // Out of descriptors: this name without attributes; the kernel looks it up if it needs it.
        if (!outOfDescriptors(err)) throw err;
        entry = undefined;
      }
      if (entry instanceof Errno) {
        // Deleted since getdents: leave it out rather than fail the listing.
        if (entry.errno === E.ENOENT) return true;
        throw entry;
      }
      // Near the descriptor limit a walk gets names only (node id 0): the kernel
      // looks up the ones it needs, so a find over millions of entries cannot
      // run the server out of descriptors faster than pruning frees them.
      return out.add(name, entry ?? nameOnly(ino, type), next);
    });
  }

  /**
   * Hands the directory's records from cookie `offset` to `emit` until it
   * returns false (the reply is full) or the directory ends, continuing the
   * stream the previous READDIR left at that cookie when there is one (see
   * dirstreams.ts). On the pool when the source is slow (the kernel holds an
   * open directory, so `nodeid` stays known while the listing waits).
   */
  private listDirectory(nodeid: NodeId, offset: bigint, emit: DirentVisitor): void | Promise<void> {
    if (this.latency.offload(this.latency.listing)) return this.listDirectoryOnPool(nodeid, offset, emit);
    let s = this.dirStreams.take(nodeid, offset);
    if (!s) {
      const started = performance.now();
      let fd: number;
      try {
        fd = this.openForListing(nodeid);
      } catch (err) {
        if (!outOfDescriptors(err)) throw err;
        this.relieveDescriptorPressure(true);
        return this.onceDescriptorsFree(() => this.listDirectory(nodeid, offset, emit));
      }
      s = this.openDirectoryStream(nodeid, fd, offset);
      this.latency.listing.record(performance.now() - started, false);
    }
    try {
      while (deliverHeld(s, emit) && !s.atEnd) {
        const started = performance.now();
        const len = getdents64(s.fd, s.buf);
        this.latency.listing.record(performance.now() - started, false);
        refill(s, len);
      }
    } catch (err) {
      this.dirStreams.close(s);
      throw err;
    }
    this.keepOrClose(s, offset);
  }

  private async listDirectoryOnPool(nodeid: NodeId, offset: bigint, emit: DirentVisitor): Promise<void> {
    let s = this.dirStreams.take(nodeid, offset);
    if (!s) {
      const fd = await this.onPool(nodeid, this.latency.listing, (dirFd) => openatOnPool(dirFd, '.', O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (fd < 0) throw Errno.of(-fd);
      s = this.openDirectoryStream(nodeid, fd, offset);
    }
    try {
      while (deliverHeld(s, emit) && !s.atEnd) {
        const len = await this.latency.run(this.latency.listing, () => getdents64OnPool(s.fd, s.buf));
        if (len < 0) throw Errno.of(-len);
        refill(s, len);
      }
    } catch (err) {
      this.dirStreams.close(s);
      throw err;
    }
    this.keepOrClose(s, offset);
  }

  /** A descriptor to list `nodeid` with; out of descriptors, other directories' kept streams are closed first (they reopen where they were). */
  private openForListing(nodeid: NodeId): number {
    const dirFd = this.node(nodeid).fd;
    for (;;) {
      try {
        return openat(dirFd, '.', O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
      } catch (err) {
        if (!outOfDescriptors(err) || !this.dirStreams.closeLeastRecent()) throw err;
      }
    }
  }

  /** A stream on the directory descriptor `fd`, positioned at `offset`. */
  private openDirectoryStream(nodeid: NodeId, fd: number, offset: bigint): DirectoryStream {
    const s = this.dirStreams.create(nodeid, fd, offset);
    try {
      if (offset !== 0n) lseek(fd, offset, SEEK_SET);
    } catch (err) {
      this.dirStreams.close(s);
      throw err;
    }
    return s;
  }

  /**
   * After a READDIR that started at cookie `from`: the stream waits for the
   * next one, unless it is at its end and this one delivered nothing (the
   * READDIR that ends every listing).
   */
  private keepOrClose(s: DirectoryStream, from: bigint): void {
    if (s.atEnd && s.start >= s.end && s.cookie === from) this.dirStreams.close(s);
    else this.dirStreams.keep(s, performance.now());
  }

  statfs(_req: unknown, ctx: RequestContext): StatfsOut {
    const s = fstatfs(this.node(ctx.nodeid).fd);
    return { blocks: s.blocks, bfree: s.bfree, bavail: s.bavail, files: s.files, ffree: s.ffree, bsize: s.bsize, namelen: s.namelen, frsize: s.frsize };
  }

  access(req: AccessRequest, ctx: RequestContext): void {
    const inode = this.node(ctx.nodeid);
    if (req.mask !== 0 && this.isServer(ctx) && this.serverUid !== 0) {
      // The server's own user (a mirror run without allow_other): the source
      // answers for it, POSIX ACLs included.
      const r = tryFaccessat(AT_FDCWD, inode.procPath, req.mask, AT_EACCESS);
      if (r < 0) throw new FuseError(-r);
      return;
    }
    const st = fstatat(inode.fd, EMPTY, STAT_SELF);
    if (!permits(st, req.mask, ctx)) throw new FuseError(E.EACCES);
  }

  // Extended attributes: the *xattr calls refuse O_PATH descriptors, so they take an open file of
  // the inode when there is one, else /proc/self/fd/N. Followed, that magic link ends at the file the
  // descriptor names, a symlink itself included (it is not followed further), so a symlink's own
  // trusted. and security. attributes are reached as the source's lgetxattr(2) would reach them.

  /** getxattr(2) of an inode: the value's length, or -errno (a null buffer asks for the length). */
  private tryGetxattrOf(inode: MirrorInode, name: string, buf: Buffer | null): number {
    const open = inode.openFile;
    return open >= 0 ? tryFgetxattr(open, name, buf) : tryGetxattr(inode.procPath, name, buf);
  }

  private listxattrOf(inode: MirrorInode, buf: Buffer | null): number {
    const open = inode.openFile;
    return open >= 0 ? flistxattr(open, buf) : listxattr(inode.procPath, buf);
  }

  /** ENODATA is the usual answer: the kernel asks for security.capability before the first write of each open and before a chown. */
  getxattr(req: GetxattrRequest, ctx: RequestContext): Buffer | Errno {
    const inode = this.node(ctx.nodeid);
    let buf = this.xattrScratch;
    let n = this.tryGetxattrOf(inode, req.name, buf);
    if (n === -E.ERANGE) {
      const size = this.tryGetxattrOf(inode, req.name, null);
      if (size < 0) return Errno.of(-size);
      buf = Buffer.allocUnsafe(size);
      n = this.tryGetxattrOf(inode, req.name, buf);
    }
    if (n < 0) return Errno.of(-n);
    return buf.subarray(0, n);
  }

  listxattr(_req: ListxattrRequest, ctx: RequestContext): Buffer[] {
    const inode = this.node(ctx.nodeid);
    let buf = this.xattrScratch;
    let n: number;
    try {
      n = this.listxattrOf(inode, buf);
    } catch (err) {
      if ((err as { code?: string }).code !== 'ERANGE') throw err;
      buf = Buffer.allocUnsafe(this.listxattrOf(inode, null));
      n = this.listxattrOf(inode, buf);
    }
    // The source lists trusted.* names only to callers with CAP_SYS_ADMIN; the
    // server lists them as root. Root (uid 0) stands for that capability here.
    const hideTrusted = ctx.uid !== 0;
    const names: Buffer[] = [];
    let start = 0;
    for (let i = 0; i < n; i++) {
      if (buf[i] === 0) {
        if (!(hideTrusted && i - start > TRUSTED.length && buf.compare(TRUSTED, 0, TRUSTED.length, start, start + TRUSTED.length) === 0)) names.push(buf.subarray(start, i));
        start = i + 1;
      }
    }
    return names;
  }

  setxattr(req: SetxattrRequest, ctx: RequestContext): void {
    const inode = this.node(ctx.nodeid);
    const open = inode.openFile;
    if (open >= 0) fsetxattr(open, req.name, req.value, req.flags);
    else setxattr(inode.procPath, req.name, req.value, req.flags);
    this.watcher?.expectAttr(inode);
    // Setting an access ACL as a caller outside the file's group drops set-group-ID;
    // the server, as root, would keep it, so the kernel asks us to.
    if (req.setxattrFlags & SETXATTR_ACL_KILL_SGID) this.clearModeBits(inode, (mode) => mode & S_ISGID);
  }

  removexattr(req: RemovexattrRequest, ctx: RequestContext): void {
    const inode = this.node(ctx.nodeid);
    const open = inode.openFile;
    if (open >= 0) fremovexattr(open, req.name);
    else removexattr(inode.procPath, req.name);
    this.watcher?.expectAttr(inode);
  }

  fallocate(req: FallocateRequest, ctx: RequestContext): void {
    fallocate(req.fh as number, req.mode, req.offset, req.length);
    // FALLOCATE carries no kill flag; the VFS would clear set-ID bits for a caller without CAP_FSETID.
    if (ctx.uid !== 0) this.killSuidgid(this.node(ctx.nodeid));
  }

  lseek(req: LseekRequest): number {
    return lseek(req.fh as number, req.offset, req.whence);
  }

  copyFileRange(req: CopyFileRangeRequest): number {
    return copyFileRange(req.fhIn as number, req.offIn, req.fhOut as number, req.offOut, req.len, 0);
  }
}

/** A READDIRPLUS record that carries no inode (node id 0): the kernel lists the name and looks it up only if asked. */
/** Whether this process may chown files to anyone (CAP_CHOWN, bit 0 of the effective set). */
function holdsCapChown(): boolean {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(nodefs.readFileSync('/proc/self/status', 'utf8'));
    return m !== null && (BigInt(`0x${m[1]}`) & 1n) === 1n;
  } catch {
    return geteuid() === 0;
  }
}

/** `path` resolved (symlinks followed), or undefined when it cannot be. */
function canonicalPath(path: string): string | undefined {
  try {
    return nodefs.realpathSync(path);
  } catch {
    return undefined;
  }
}

function nameOnly(ino: number, type: number): EntryOut {
  const attr = emptyStat();
  attr.ino = ino;
  attr.mode = type << 12;
  return { nodeid: 0 as NodeId, generation: 0, entryTimeout: 0, attrTimeout: 0, attr };
}

/** Classic owner/group/other permission check for ACCESS (root passes except X_OK on a file nobody may execute). */
function permits(st: Stat, mask: number, ctx: RequestContext): boolean {
  if (mask === 0) return true;
  if (ctx.uid === 0) {
    if (!(mask & 1)) return true;
    return (st.mode & S_IFMT) === S_IFDIR || (st.mode & 0o111) !== 0;
  }
  let bits: number;
  if (ctx.uid === st.uid) bits = (st.mode >> 6) & 7;
  else if (ctx.gid === st.gid || callerInGroup(ctx.pid, st.gid)) bits = (st.mode >> 3) & 7;
  else bits = st.mode & 7;
  return (bits & mask) === mask;
}

function callerInGroup(pid: number, gid: number): boolean {
  if (pid === 0) return false;
  try {
    const status = nodefs.readFileSync(`/proc/${pid}/status`, 'latin1');
    const line = /^Groups:\s*(.*)$/m.exec(status);
    return !!line && line[1].split(/\s+/).includes(String(gid));
  } catch {
    return false;
  }
}

/** Receives one directory record; returns false to stop (that record then counts as not delivered). */
type DirentVisitor = (name: Buffer, ino: number, type: number, next: bigint) => boolean;

/**
 * Hands the stream's held records to `emit`, advancing past each it takes;
 * false once it refuses one (the reply is full).
 */
function deliverHeld(s: DirectoryStream, emit: DirentVisitor): boolean {
  let more = true;
  s.start = parseDirents(s.buf, s.end, (ino, off, type, name) => {
    more = emit(name, ino, type, off);
    if (more) s.cookie = off;
    return more;
  }, s.start);
  return more;
}

/** The stream's buffer now holds `len` fresh bytes of records (0: the directory has ended). */
function refill(s: DirectoryStream, len: number): void {
  s.start = 0;
  s.end = len;
  if (len === 0) s.atEnd = true;
}

/** Whether `err` is the process running out of descriptors. */
function outOfDescriptors(err: unknown): boolean {
  return (err as { code?: string }).code === 'EMFILE';
}

/** Descriptors the process holds now (/proc/self/fd, less the one reading it); 0 if it cannot be read. */
function openDescriptorCount(): number {
  try {
    return nodefs.readdirSync('/proc/self/fd').length - 1;
  } catch {
    return 0;
  }
}
