/**
 * The mirror's inode table: each inode the kernel knows, keyed by node id and
 * by the source's (st_dev, st_ino).
 *
 * An inode is held in one of two ways:
 *
 * - **by file handle** (name_to_handle_at), when the process has
 *   CAP_DAC_READ_SEARCH and the source's filesystem gives handles: the handle
 *   names the file itself, so it follows renames behind our back, and turns
 *   stale once the file is gone (its inode number may then be reused, but the
 *   handle's generation tells the new file apart). The handle is taken when
 *   the inode's first descriptor leaves the cache (until then that descriptor
 *   pins the file, and a walk that the kernel soon forgets never pays for a
 *   handle). An O_PATH descriptor is
 *   opened from the handle when a request needs one and kept in a bounded
 *   cache, least recently used out first. The kernel may then keep as many
 *   inodes as its memory allows: they cost the server memory, not
 *   descriptors.
 * - **by descriptor**, otherwise (no capability, no handles, a handle longer
 *   than a slot, or another filesystem mounted inside the source): one O_PATH
 *   descriptor for as long as the kernel knows the inode. It keeps naming the
 *   file when it is renamed, and pins the inode number so it cannot be reused
 *   while we know it. The mirror asks the kernel to forget inodes when these
 *   crowd the descriptor limit, and once they do, an inode opened lets its
 *   descriptor go while its open files stand in for it.
 *
 * A walk over a million files leaves the kernel holding a million inodes, so
 * the table keeps them in typed arrays indexed by slot (node id = slot + 1),
 * about 60 bytes each with the index, rather than as objects and maps (about
 * 220 bytes each, measured). `MirrorInode` is a short-lived view of one slot.
 */
import { constants as osConstants } from 'node:os';
import type { NodeId } from '../fs/filesystem.js';
import { FuseError } from '../fs/errors.js';
import type { Stat } from '../sys/index.js';
import { FILE_HANDLE_BYTES, emptyStat, open, tryClose, tryFstatat, tryNameToHandleAt, tryOpenByHandleAt } from '../sys/index.js';
import { AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW, O_CLOEXEC, O_PATH } from '../sys/constants.js';
import { DeferredCloses } from '../sys/deferred-close.js';
import { BackgroundCloser } from '../sys/background-close.js';

/** The path through which a descriptor's file can be named again. */
export function procPath(fd: number): string {
  return `/proc/self/fd/${fd}`;
}

/** An O_PATH descriptor of the file at `path`, or -1 when none can be opened (no descriptor left, say). */
function tryOpenPath(path: string): number {
  try {
    return open(path, O_PATH | O_CLOEXEC, 0);
  } catch {
    return -1;
  }
}

/**
 * One inode of the table, as handlers use it. A view: valid while the kernel
 * knows the inode (until its last FORGET), after which its slot may be given
 * to another inode.
 */
export class MirrorInode {
  constructor(
    private readonly table: InodeTable,
    /** The inode's slot in the table. @internal */
    readonly slot: number,
  ) {}

  get nodeid(): NodeId {
    return (this.slot + 1) as NodeId;
  }

  /** The kernel's references (lookups minus forgets). */
  get nlookup(): number {
    return this.table.nlookupOf(this.slot);
  }

  set nlookup(n: number) {
    this.table.setNlookup(this.slot, n);
  }

  get dev(): number {
    return this.table.devOf(this.slot);
  }

  get ino(): number {
    return this.table.inoOf(this.slot);
  }

  /** S_IFMT bits: the type never changes for a given inode. */
  get type(): number {
    return this.table.typeOf(this.slot);
  }

  /**
   * An O_PATH descriptor of the file, valid until the next call into the
   * table: opened from the handle if the cache holds none. Throws ESTALE when
   * the file is gone.
   */
  get fd(): number {
    return this.table.descriptorOf(this.slot);
  }

  /** The attributes the file had when it was let go, once it is gone (unlinked through the mirror, nothing open; see `InodeTable.releaseIfUnlinked`). */
  get goneStat(): Stat | undefined {
    return this.table.goneStatOf(this.slot);
  }

  /** Whether the file cannot have gone away under this inode: a descriptor (or an open file) pins it. */
  get pinned(): boolean {
    return this.table.isPinned(this.slot);
  }

  /** /proc/self/fd/N: how calls that take no O_PATH descriptor (xattrs, reopening) reach the file. */
  get procPath(): string {
    return procPath(this.fd);
  }

  /**
   * A descriptor the mirror holds open on this inode for one of the kernel's
   * file handles, or -1. While a file is open, the calls that refuse O_PATH
   * descriptors (xattrs, fchmod) take it instead of walking /proc/self/fd/N,
   * which costs several microseconds for each new descriptor number; the
   * kernel asks for security.capability before the first write of every open.
   */
  get openFile(): number {
    return this.table.openFileOf(this.slot);
  }

  /**
   * `fd` is open on this inode for one of the kernel's file handles. With
   * `spareDescriptors`, an inode held by descriptor lets that descriptor go
   * while it has open files (they name and pin it), to take it back at the
   * last close.
   */
  fileOpened(fd: number, spareDescriptors = false): void {
    this.table.fileOpened(this.slot, fd, spareDescriptors);
  }

  /**
   * `fd` is about to be closed. Returns true when the inode keeps it instead
   * (its path descriptor could not be taken back: no descriptor left), and
   * the caller must not close it.
   */
  fileClosed(fd: number): boolean {
    return this.table.fileClosed(this.slot, fd);
  }
}

const E = osConstants.errno;

/** Descriptors the cache keeps when the table is not told otherwise. */
const DEFAULT_CACHED_DESCRIPTORS = 4096;
/** Descriptors the cache keeps however many files are open, a quarter of its capacity if less (see `cacheRoom`). */
const MIN_CACHED_DESCRIPTORS = 64;
/** Bytes of handle a slot holds, header included (ext4, xfs, tmpfs and btrfs handles fit); longer ones are held by descriptor. */
const HANDLE_SLOT = 32;
/** Slots the table starts with; it doubles as needed. */
const INITIAL_SLOTS = 1024;
/** `handleLengths` of an inode to be held by handle whose handle is not taken yet: it holds its first descriptor. */
const HANDLE_PENDING = 255;
/** The index's empty and deleted markers (slots are >= 0). */
const EMPTY = -1;
const DELETED = -2;
/** `removed` of a slot a name of whose file was removed through the mirror. */
const NAME_REMOVED = 1;
/** `removed` of a slot whose file lost its last link with nothing open: its descriptor is closed, requests get ESTALE. */
const GONE = 2;

/**
 * Every inode the kernel knows (see this module's comment). A slot whose
 * nlookup is 0 is free (the root's never is).
 */
export class InodeTable {
  private capacity = 0;
  private nlookups = new Int32Array(0);
  /** The O_PATH descriptor held now, or -1: for life when held by descriptor, while cached when by handle. */
  private heldFds = new Int32Array(0);
  private inos = new Float64Array(0);
  /** Index into `devs`. */
  private devIndexes = new Uint16Array(0);
  /** S_IFMT >> 12. */
  private types = new Uint8Array(0);
  /** The handle's length in bytes (header included), 0 when held by descriptor, HANDLE_PENDING before it is taken. */
  private handleLengths = new Uint8Array(0);
  private handles = new Uint8Array(0);
  /** Devices seen, by index. */
  private readonly devs: number[] = [];
  private readonly devIndex = new Map<number, number>();
  private readonly freeSlots: number[] = [];
  private nextSlot = 0;
  private live = 0;

  /** Open addressing over (device index, inode number) → slot, linear probing. */
  private index = new Int32Array(0);
  private indexUsed = 0;

  /**
   * Descriptors of forgotten inodes: closed on a thread of their own (a cache
   * drop forgets thousands at once), or between requests when that thread
   * cannot take them. A FORGET is a request of its own, so no handler holds
   * the number then (calls on the pool use duplicates).
   */
  private readonly closer = new BackgroundCloser();
  /**
   * Descriptors closed between requests: those the closing thread cannot
   * take, and those the cache lets go of, which the request that made room
   * may still be using (a handler that reopened one inode may hold another's
   * descriptor it got a moment before).
   */
  private readonly closing = new DeferredCloses<number>((fd) => void tryClose(fd));
  /**
   * Slots held by handle that hold a descriptor now, in the order they got it
   * (or were last passed over by `shrinkCache`). Use is marked in `usedSince`
   * instead of moving the slot to the end on every access (a request touches
   * several): eviction gives a used slot a second chance, which approximates
   * least recently used at a Set operation per eviction, not per access.
   */
  private readonly cached = new Set<number>();
  /** 1 when the slot's cached descriptor was used since `shrinkCache` last passed it. */
  private usedSince = new Uint8Array(0);
  /** NAME_REMOVED when a name of the slot's file was removed through the mirror (see `nameRemoved`), GONE once its descriptor was let go for good (see `releaseIfUnlinked`). */
  private removed = new Uint8Array(0);
  /** The node id of the directory the slot's inode was last looked up in (0: none yet, or the root itself). */
  private parents = new Int32Array(0);
  private cacheCapacity = DEFAULT_CACHED_DESCRIPTORS;
  /** Descriptors in `openFiles`, all inodes together. */
  private openFileCount = 0;
  /** Slots held by descriptor (not the root), least recently used first: what pruning offers the kernel. */
  private readonly byDescriptor = new Set<number>();
  /** Descriptors open for the kernel's file handles, by slot. */
  private readonly openFiles = new Map<number, number[]>();
  /** A descriptor open for reading on the source (open_by_handle_at refuses O_PATH ones), or -1: no handles. */
  private handleMount = -1;
  /** Handles are taken of inodes on this device only: open_by_handle_at decodes them on the root's filesystem. */
  private handleDev = -1;
  private readonly handleScratch = Buffer.allocUnsafeSlow(FILE_HANDLE_BYTES);
  /** Where `releaseIfUnlinked` reads a file's link count. */
  private readonly nlinkScratch = emptyStat();
  /** The last attributes of gone inodes (see `releaseIfUnlinked`), which GETATTR still answers. */
  private readonly goneStats = new Map<number, Stat>();
  /** Bytes of the handle `takeHandle` put in the scratch buffer. */
  private takenLength = 0;

  /** The source's root (node id 1), held by descriptor for the table's life. */
  readonly root: MirrorInode;

  /** @param rootFd an O_PATH descriptor of the source's root, owned by the table from now on */
  constructor(rootFd: number, dev: number, ino: number, type: number) {
    this.grow();
    const slot = this.allocate(rootFd, dev, ino, type, false);
    this.root = new MirrorInode(this, slot);
  }

  /**
   * Holds inodes on the root's filesystem by file handle from now on, if this
   * process may open files by handle (CAP_DAC_READ_SEARCH) and the filesystem
   * gives handles: `mountFd` (open for reading, not O_PATH, on the root) then
   * belongs to the table. Returns whether it does; if not, `mountFd` is left to
   * the caller.
   */
  useFileHandles(mountFd: number): boolean {
    const n = tryNameToHandleAt(this.heldFds[0]!, '', AT_EMPTY_PATH, this.handleScratch);
    if (n < 0 || n > HANDLE_SLOT) return false;
    const fd = tryOpenByHandleAt(mountFd, this.handleScratch.subarray(0, n), O_PATH | O_CLOEXEC);
    if (fd < 0) return false;
    tryClose(fd);
    this.handleMount = mountFd;
    this.handleDev = this.root.dev;
    return true;
  }

  /** Whether new inodes on the root's filesystem are held by handle. */
  get byHandle(): boolean {
    return this.handleMount >= 0;
  }

  /** Keeps at most `n` descriptors for inodes held by handle, less one per file open for the kernel (see `cacheRoom`). */
  set cachedDescriptors(n: number) {
    this.cacheCapacity = Math.max(1, Math.floor(n));
    this.shrinkCache();
  }

  /**
   * Held descriptors at and above which a forgotten inode's descriptor is
   * closed at once rather than queued: near the descriptor limit, those
   * waiting for the closing thread would crowd out the lookups that follow.
   */
  closeAtOnceFrom = Infinity;

  get(nodeid: number): MirrorInode | undefined {
    const slot = nodeid - 1;
    if (!(slot >= 0 && slot < this.nextSlot) || this.nlookups[slot] === 0) return undefined;
    return new MirrorInode(this, slot);
  }

  find(dev: number, ino: number): MirrorInode | undefined {
    const d = this.devIndex.get(dev);
    if (d === undefined) return undefined;
    const slot = this.lookupIndex(d, ino);
    return slot < 0 ? undefined : new MirrorInode(this, slot);
  }

  /**
   * Takes the handle of `name` in `dirfd` (of `dirfd` itself for an empty name
   * with AT_EMPTY_PATH), for `matchesTakenHandle`; false if the table
   * does not hold inodes of `dev` by handle, or the handle cannot be taken or
   * is too long for a slot.
   */
  takeHandle(dev: number, dirfd: number, name: Buffer | string, flags: number): boolean {
    this.takenLength = 0;
    if (dev !== this.handleDev) return false;
    const n = tryNameToHandleAt(dirfd, name, flags, this.handleScratch);
    if (n < 0 || n > HANDLE_SLOT) return false;
    this.takenLength = n;
    return true;
  }

  /** Whether `inode` is held by the handle `takeHandle` took last. */
  matchesTakenHandle(inode: MirrorInode): boolean {
    const slot = inode.slot;
    const n = this.takenLength;
    if (n === 0 || this.handleLengths[slot] !== n) return false;
    const base = slot * HANDLE_SLOT;
    const scratch = this.handleScratch;
    for (let i = 0; i < n; i++) if (this.handles[base + i] !== scratch[i]) return false;
    return true;
  }

  /**
   * Whether `inode` is the file that `name` in `dirfd` names now, the inode
   * numbers being known to match: an inode held by a descriptor cannot have
   * been replaced (its number cannot be reused while we hold it), one held
   * only by handle is the same file if the handles match.
   */
  isStill(inode: MirrorInode, dirfd: number, name: Buffer | string, flags: number): boolean {
    if (this.isPinned(inode.slot)) return true;
    return this.takeHandle(inode.dev, dirfd, name, flags) && this.matchesTakenHandle(inode);
  }

  /** @internal */
  descriptorOf(slot: number): number {
    let fd = this.heldFds[slot]!;
    if (fd < 0 && this.removed[slot] === GONE) throw new FuseError(E.ESTALE);
    if (fd >= 0) {
      if (this.handleLengths[slot] !== 0) this.usedSince[slot] = 1;
      return fd;
    }
    // A file open for the kernel names the inode as well as a path descriptor
    // would (the calls that take one accept any descriptor), and pins it.
    const files = this.openFiles.get(slot);
    if (files) return files[0]!;
    if (this.handleLengths[slot] === 0) return fd;
    const n = this.handleLengths[slot]!;
    this.handleScratch.set(this.handles.subarray(slot * HANDLE_SLOT, slot * HANDLE_SLOT + n));
    fd = tryOpenByHandleAt(this.handleMount, this.handleScratch.subarray(0, n), O_PATH | O_CLOEXEC);
    // Gone from the source (ESTALE), as an unlinked file is for NFS clients.
    if (fd < 0) throw new FuseError(-fd);
    this.hold(slot, fd);
    return fd;
  }

  /** @internal */
  isPinned(slot: number): boolean {
    return this.heldFds[slot]! >= 0 || this.openFiles.has(slot);
  }

  /** @internal */
  nlookupOf(slot: number): number {
    return this.nlookups[slot]!;
  }

  /** @internal Sets the kernel's references; use `forget` to drop them. */
  setNlookup(slot: number, n: number): void {
    if (n > 0) this.nlookups[slot] = n;
  }

  /** @internal */
  devOf(slot: number): number {
    return this.devs[this.devIndexes[slot]!]!;
  }

  /** @internal */
  inoOf(slot: number): number {
    return this.inos[slot]!;
  }

  /** @internal */
  typeOf(slot: number): number {
    return this.types[slot]! << 12;
  }

  /** @internal */
  openFileOf(slot: number): number {
    return this.openFiles.get(slot)?.[0] ?? -1;
  }

  /** @internal */
  fileOpened(slot: number, fd: number, spareDescriptors = false): void {
    const files = this.openFiles.get(slot);
    if (files) files.push(fd);
    else this.openFiles.set(slot, [fd]);
    this.openFileCount++;
    // Every open file leaves the cache one descriptor less (see cacheRoom).
    if (this.cached.size > this.cacheRoom) this.shrinkCache();
    if (spareDescriptors) this.spareDescriptor(slot);
  }

  /**
   * Near the descriptor limit: every inode held by descriptor that has a file
   * open for the kernel lets its path descriptor go (closed between
   * requests), as one opened near the limit does at once (`fileOpened`):
   * files opened before the limit came near would otherwise keep two each,
   * and pruning cannot drop inodes in use.
   */
  spareOpenInodeDescriptors(): void {
    for (const slot of this.openFiles.keys()) this.spareDescriptor(slot);
  }

  /** An inode held by descriptor (not the root) with files open lets its descriptor go, closed between requests: the request at hand may still use it. */
  private spareDescriptor(slot: number): void {
    if (slot === 0 || this.handleLengths[slot] !== 0 || this.heldFds[slot]! < 0) return;
    this.closing.push(this.heldFds[slot]!);
    this.heldFds[slot] = -1;
    this.byDescriptor.delete(slot);
  }

  /** @internal */
  fileClosed(slot: number, fd: number): boolean {
    const files = this.openFiles.get(slot);
    const i = files ? files.indexOf(fd) : -1;
    if (i < 0) return false;
    files!.splice(i, 1);
    this.openFileCount--;
    if (files!.length > 0) return false;
    this.openFiles.delete(slot);
    if (this.handleLengths[slot] !== 0 || this.heldFds[slot]! >= 0) return false;
    // Held by descriptor, which its open files stood in for: take one back
    // before the last of them goes, or keep that one if none is left.
    const pathFd = tryOpenPath(procPath(fd));
    const keep = pathFd < 0;
    this.heldFds[slot] = keep ? fd : pathFd;
    this.byDescriptor.add(slot);
    return keep;
  }

  /**
   * Descriptors the cache may keep now: its capacity less one for each file
   * open for the kernel (a client holding thousands of files open must not
   * run the server out of descriptors: the files need theirs, the cache can
   * reopen from handles), and never fewer than MIN_CACHED_DESCRIPTORS (a
   * quarter of the capacity if that is less).
   */
  private get cacheRoom(): number {
    return Math.max(Math.min(MIN_CACHED_DESCRIPTORS, this.cacheCapacity >> 2), this.cacheCapacity - this.openFileCount);
  }

  /** Marks `inode` as just used: pruning offers the least recently used first. */
  touch(inode: MirrorInode): void {
    const slot = inode.slot;
    if (!this.byDescriptor.delete(slot)) return;
    this.byDescriptor.add(slot);
  }

  /** The node id of every inode the kernel knows, the root first, however each is held. */
  knownNodeIds(): number[] {
    const out: number[] = [];
    for (let slot = 0; slot < this.nextSlot; slot++) if (this.nlookups[slot]! > 0) out.push(slot + 1);
    return out;
  }

  /** `inode` was just looked up in directory `parent` (for `openInodesIn`). */
  lookedUpIn(inode: MirrorInode, parent: number): void {
    this.parents[inode.slot] = parent;
  }

  /** Node ids of the inodes with files open for the kernel that were last looked up in one of `dirs`. */
  openInodesIn(dirs: ReadonlySet<number>): number[] {
    const out: number[] = [];
    for (const slot of this.openFiles.keys()) if (dirs.has(this.parents[slot]!)) out.push(slot + 1);
    return out;
  }

  /** Up to `n` node ids held by descriptor, least recently used first (never the root). */
  leastRecentlyUsed(n: number): number[] {
    const out: number[] = [];
    for (const slot of this.byDescriptor) {
      if (out.length >= n) break;
      out.push(slot + 1);
    }
    return out;
  }

  /**
   * Adopts `fd` (an O_PATH descriptor) as a new inode with one kernel
   * reference: held by handle if `byHandleIfAble` and the table holds inodes
   * of `dev` by handle (the handle taken from `fd` when the cache lets it go),
   * else by the descriptor. An inode indexed under the same device and inode
   * number is replaced in the index (its file is gone: the number was
   * reused); the kernel keeps its node id until it forgets it.
   */
  add(fd: number, dev: number, ino: number, type: number, byHandleIfAble = false): MirrorInode {
    return new MirrorInode(this, this.allocate(fd, dev, ino, type, byHandleIfAble && dev === this.handleDev));
  }

  /** Gives `inode` (held by handle, holding no descriptor) the descriptor `fd`, which the cache now owns. */
  offer(inode: MirrorInode, fd: number): boolean {
    const slot = inode.slot;
    if (this.handleLengths[slot] === 0 || this.heldFds[slot]! >= 0) return false;
    this.hold(slot, fd);
    return true;
  }

  /**
   * A name of the file `dev`/`ino` is being removed through the mirror (an
   * unlink, or a rename over it). When the kernel forgets the inode, its
   * descriptor is then closed at once rather than in the background: that
   * close may be what frees the file in the source, and a writer's next
   * request must find the space back.
   */
  nameRemoved(dev: number, ino: number): MirrorInode | undefined {
    const d = this.devIndex.get(dev);
    if (d === undefined) return undefined;
    const slot = this.lookupIndex(d, ino);
    if (slot <= 0) return undefined;
    this.removed[slot] = NAME_REMOVED;
    return new MirrorInode(this, slot);
  }

  /**
   * After a name of `inode`'s file was removed through the mirror, or the
   * last file of it open through the mount was closed: if the file has no
   * link left and nothing of it is open through the mount, the inode's own
   * descriptor is all that keeps it (and its space) in the source. The
   * kernel forgets the inode only when it drops its last reference, which
   * may be milliseconds after the UNLINK's reply, after the writer's next
   * request (seen: a CREATE and its write got ENOSPC before the FORGET came).
   * So the descriptor is closed now and the inode is gone: a request for it
   * before the FORGET (an O_PATH descriptor's fstat) gets ESTALE, as an NFS
   * client's would. Returns whether it was let go.
   */
  releaseIfUnlinked(inode: MirrorInode): boolean {
    const slot = inode.slot;
    if (this.removed[slot] !== NAME_REMOVED || this.nlookups[slot] === 0 || this.openFiles.has(slot)) return false;
    const fd = this.heldFds[slot]!;
    if (fd < 0 || tryFstatat(fd, '', AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, this.nlinkScratch) < 0 || this.nlinkScratch.nlink !== 0) return false;
    tryClose(fd);
    this.heldFds[slot] = -1;
    this.cached.delete(slot);
    this.byDescriptor.delete(slot);
    this.removed[slot] = GONE;
    this.goneStats.set(slot, { ...this.nlinkScratch });
    this.unindex(slot);
    return true;
  }

  /** @internal */
  goneStatOf(slot: number): Stat | undefined {
    return this.goneStats.get(slot);
  }

  /** Drops `n` kernel references; closes the descriptor when none are left. The root is never dropped. */
  forget(nodeid: number, n: number): void {
    const slot = nodeid - 1;
    if (slot <= 0 || slot >= this.nextSlot || this.nlookups[slot] === 0) return;
    const left = this.nlookups[slot]! - n;
    if (left > 0) {
      this.nlookups[slot] = left;
      return;
    }
    this.nlookups[slot] = 0;
    this.goneStats.delete(slot);
    this.live--;
    this.unindex(slot);
    if (this.handleLengths[slot] === 0) this.byDescriptor.delete(slot);
    else this.cached.delete(slot);
    const files = this.openFiles.get(slot);
    if (files) {
      this.openFileCount -= files.length;
      this.openFiles.delete(slot);
    }
    // Closing may free the source inode (a file unlinked through the mirror is
    // evicted here, not at UNLINK): at once when a name of it was removed
    // through the mirror, so that its space is back for the next request even
    // if the server never runs out of requests; otherwise on the closing
    // thread or between requests, off the client's path, unless so many wait
    // that they would crowd the descriptor limit.
    const fd = this.heldFds[slot]!;
    if (fd >= 0 && (this.removed[slot] !== 0 || this.descriptors >= this.closeAtOnceFrom)) tryClose(fd);
    else if (fd >= 0 && !this.closer.push(fd)) this.closing.push(fd);
    this.heldFds[slot] = -1;
    this.freeSlots.push(slot);
  }

  /**
   * Starts the thread that closes descriptors of forgotten inodes (at INIT,
   * before requests flow); without it they are closed between requests.
   * `onFailure` is told if the thread cannot start or dies later (they are
   * then closed between requests too).
   */
  startBackgroundClosing(onFailure?: (err: Error) => void): boolean {
    return this.closer.start(onFailure);
  }

  /**
   * Closes one descriptor waiting to be closed; false when none is. Between
   * requests; `busy` (requests coming back to back): only those no other
   * thread will close, so the closing thread keeps the rest off the serving one.
   */
  closeOneForgotten(busy = false): boolean {
    if (busy) return this.closing.closeOne();
    return this.closer.closeOne() || this.closing.closeOne();
  }

  /** Descriptors held: the root, inodes held by descriptor, the cache, and those forgotten but not closed yet. */
  get descriptors(): number {
    return 1 + this.byDescriptor.size + this.cached.size + this.closing.length + this.closer.pending;
  }

  /** Inodes the kernel knows, the root included. */
  get size(): number {
    return this.live;
  }

  /** Closes every descriptor (at shutdown). */
  clear(): void {
    this.closer.stop();
    while (this.closeOneForgotten());
    for (let slot = 0; slot < this.nextSlot; slot++) {
      const fd = this.heldFds[slot]!;
      if (fd >= 0) tryClose(fd);
      this.heldFds[slot] = -1;
      if (slot > 0) this.nlookups[slot] = 0;
    }
    this.live = 1;
    this.index.fill(EMPTY);
    this.indexUsed = 0;
    this.cached.clear();
    this.byDescriptor.clear();
    this.openFiles.clear();
    this.openFileCount = 0;
    if (this.handleMount >= 0) tryClose(this.handleMount);
    this.handleMount = -1;
  }

  private allocate(fd: number, dev: number, ino: number, type: number, byHandle: boolean): number {
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      if (this.nextSlot === this.capacity) this.grow();
      slot = this.nextSlot++;
    }
    let d = this.devIndex.get(dev);
    if (d === undefined) {
      d = this.devs.length;
      this.devs.push(dev);
      this.devIndex.set(dev, d);
    }
    this.nlookups[slot] = 1;
    this.inos[slot] = ino;
    this.devIndexes[slot] = d;
    this.types[slot] = type >>> 12;
    this.heldFds[slot] = -1;
    this.removed[slot] = 0;
    this.parents[slot] = 0;
    this.goneStats.delete(slot);
    this.live++;
    if (byHandle) {
      this.handleLengths[slot] = HANDLE_PENDING;
      this.hold(slot, fd);
    } else {
      this.handleLengths[slot] = 0;
      this.heldFds[slot] = fd;
      if (slot !== 0) this.byDescriptor.add(slot);
    }
    this.insertIndex(d, ino, slot);
    return slot;
  }

  private hold(slot: number, fd: number): void {
    this.heldFds[slot] = fd;
    this.usedSince[slot] = 0;
    this.cached.add(slot);
    if (this.cached.size > this.cacheRoom) this.shrinkCache();
  }

  /**
   * Closes cached descriptors past the room, oldest first; one used since
   * the last pass goes to the back instead (an inode with open files needs
   * none: its files name it).
   * An inode whose handle is not taken yet gets it from the descriptor first;
   * one that gives none is held by its descriptor from then on.
   */
  private shrinkCache(): void {
    let passes = 2 * this.cached.size;
    const room = this.cacheRoom;
    for (const slot of this.cached) {
      if (this.cached.size <= room || passes-- <= 0) break;
      this.cached.delete(slot);
      if (this.usedSince[slot]) {
        this.usedSince[slot] = 0;
        this.cached.add(slot);
        continue;
      }
      if (this.handleLengths[slot] === HANDLE_PENDING && !this.takeHandleOf(slot)) {
        this.handleLengths[slot] = 0;
        this.byDescriptor.add(slot);
        continue;
      }
      this.closing.push(this.heldFds[slot]!);
      this.heldFds[slot] = -1;
    }
  }

  /** Takes the handle of the file `slot`'s descriptor names into the slot; false if it gives none that fits. */
  private takeHandleOf(slot: number): boolean {
    if (!this.takeHandle(this.handleDev, this.heldFds[slot]!, '', AT_EMPTY_PATH)) return false;
    this.handleScratch.copy(this.handles, slot * HANDLE_SLOT, 0, this.takenLength);
    this.handleLengths[slot] = this.takenLength;
    return true;
  }

  private grow(): void {
    const cap = Math.max(INITIAL_SLOTS, this.capacity * 2);
    const widen = <T extends Int32Array | Float64Array | Uint16Array | Uint8Array>(old: T, make: (n: number) => T, per = 1): T => {
      const next = make(cap * per);
      next.set(old);
      return next;
    };
    this.nlookups = widen(this.nlookups, (n) => new Int32Array(n));
    this.heldFds = widen(this.heldFds, (n) => new Int32Array(n).fill(-1));
    this.inos = widen(this.inos, (n) => new Float64Array(n));
    this.devIndexes = widen(this.devIndexes, (n) => new Uint16Array(n));
    this.types = widen(this.types, (n) => new Uint8Array(n));
    this.usedSince = widen(this.usedSince, (n) => new Uint8Array(n));
    this.removed = widen(this.removed, (n) => new Uint8Array(n));
    this.parents = widen(this.parents, (n) => new Int32Array(n));
    this.handleLengths = widen(this.handleLengths, (n) => new Uint8Array(n));
    this.handles = widen(this.handles, (n) => new Uint8Array(n), HANDLE_SLOT);
    this.capacity = cap;
    this.rehash(cap * 2);
  }

  // The index: a power-of-two table of slots, at most half full (deleted
  // markers included), probed linearly from a hash of the inode number.

  private bucket(d: number, ino: number): number {
    // Inode numbers up to 2^53: mix the high and low 32 bits and the device.
    const lo = ino >>> 0;
    const hi = (ino / 4294967296) >>> 0;
    let h = Math.imul(lo ^ Math.imul(hi, 0x85ebca6b) ^ Math.imul(d, 0xc2b2ae35), 0x9e3779b1);
    h ^= h >>> 15;
    return h & (this.index.length - 1);
  }

  private lookupIndex(d: number, ino: number): number {
    const mask = this.index.length - 1;
    for (let i = this.bucket(d, ino); ; i = (i + 1) & mask) {
      const slot = this.index[i]!;
      if (slot === EMPTY) return -1;
      if (slot >= 0 && this.inos[slot] === ino && this.devIndexes[slot] === d) return slot;
    }
  }

  private insertIndex(d: number, ino: number, slot: number): void {
    const mask = this.index.length - 1;
    let firstDeleted = -1;
    let i = this.bucket(d, ino);
    for (; ; i = (i + 1) & mask) {
      const s = this.index[i]!;
      if (s === EMPTY) break;
      if (s === DELETED) {
        if (firstDeleted < 0) firstDeleted = i;
        continue;
      }
      // The same file number again: the old inode's file is gone; the new one takes its place.
      if (s !== slot && this.inos[s] === ino && this.devIndexes[s] === d) {
        this.index[i] = slot;
        return;
      }
    }
    if (firstDeleted >= 0) {
      this.index[firstDeleted] = slot;
      return;
    }
    this.index[i] = slot;
    if (++this.indexUsed * 2 > this.index.length) this.rehash(this.index.length * (this.live * 4 > this.index.length ? 2 : 1));
  }

  /** Removes `slot` from the index if it is the one indexed for its device and inode number. */
  private unindex(slot: number): void {
    const d = this.devIndexes[slot]!;
    const ino = this.inos[slot]!;
    const mask = this.index.length - 1;
    for (let i = this.bucket(d, ino); ; i = (i + 1) & mask) {
      const s = this.index[i]!;
      if (s === EMPTY) return;
      if (s === slot) {
        this.index[i] = DELETED;
        return;
      }
    }
  }

  private rehash(size: number): void {
    const old = this.index;
    this.index = new Int32Array(size).fill(EMPTY);
    this.indexUsed = 0;
    const mask = size - 1;
    for (const slot of old) {
      if (slot < 0) continue;
      let i = this.bucket(this.devIndexes[slot]!, this.inos[slot]!);
      while (this.index[i] !== EMPTY) i = (i + 1) & mask;
      this.index[i] = slot;
      this.indexUsed++;
    }
  }
}
