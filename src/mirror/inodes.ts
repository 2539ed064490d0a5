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
 *   handle's generation tells the new file apart). An O_PATH descriptor is
 *   opened from the handle when a request needs one and kept in a bounded
 *   cache, least recently used out first. The kernel may then keep as many
 *   inodes as its memory allows: they cost the server memory, not
 *   descriptors.
 * - **by descriptor**, otherwise (no capability, no handles, or another
 *   filesystem mounted inside the source): one O_PATH descriptor for as long
 *   as the kernel knows the inode. It keeps naming the file when it is
 *   renamed, and pins the inode number so it cannot be reused while we know
 *   it. The mirror asks the kernel to forget inodes when these crowd the
 *   descriptor limit.
 */
import type { NodeId } from '../fs/filesystem.js';
import { FuseError } from '../fs/errors.js';
import { FILE_HANDLE_BYTES, tryClose, tryNameToHandleAt, tryOpenByHandleAt } from '../sys/index.js';
import { AT_EMPTY_PATH, O_CLOEXEC, O_PATH } from '../sys/constants.js';
import { DeferredCloses } from '../sys/deferred-close.js';

/** The path through which a descriptor's file can be named again. */
export function procPath(fd: number): string {
  return `/proc/self/fd/${fd}`;
}

/** How an inode's descriptor is found: its table (the descriptor cache). */
export interface DescriptorSource {
  descriptorOf(inode: MirrorInode): number;
}

export class MirrorInode {
  /** The kernel's references (lookups minus forgets). */
  nlookup = 0;
  /**
   * The O_PATH descriptor held now: for an inode held by descriptor, for its
   * whole life; for one held by handle, while it sits in the descriptor cache
   * (-1 when it does not).
   */
  heldFd: number;
  constructor(
    readonly nodeid: NodeId,
    fd: number,
    readonly dev: number,
    readonly ino: number,
    /** S_IFMT bits: the type never changes for a given inode. */
    readonly type: number,
    /** The file handle (struct file_handle's bytes, as latin1), or undefined for an inode held by descriptor. */
    readonly handle: string | undefined,
    private readonly source: DescriptorSource,
  ) {
    this.heldFd = fd;
  }

  /**
   * An O_PATH descriptor of the file, valid until the next call into the
   * table: opened from the handle if the cache holds none. Throws ESTALE when
   * the file is gone.
   */
  get fd(): number {
    return this.handle === undefined ? this.heldFd : this.source.descriptorOf(this);
  }

  /** Whether the file cannot have gone away under this inode: a descriptor (or an open file) pins it. */
  get pinned(): boolean {
    return this.heldFd >= 0 || this.openFiles !== undefined;
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
    return this.openFiles?.[0] ?? -1;
  }
  private openFiles: number[] | undefined;

  fileOpened(fd: number): void {
    (this.openFiles ??= []).push(fd);
  }

  fileClosed(fd: number): void {
    const files = this.openFiles;
    const i = files ? files.indexOf(fd) : -1;
    if (i < 0) return;
    files!.splice(i, 1);
    if (files!.length === 0) this.openFiles = undefined;
  }
}

/** Descriptors the cache keeps when the table is not told otherwise. */
const DEFAULT_CACHED_DESCRIPTORS = 4096;

export class InodeTable implements DescriptorSource {
  private readonly byId = new Map<number, MirrorInode>();
  private readonly byDev = new Map<number, Map<number, MirrorInode>>();
  private nextId = 2;
  /** Descriptors of forgotten inodes, and of inodes dropped from the cache, closed between requests. */
  private readonly closing = new DeferredCloses<number>((fd) => void tryClose(fd));
  /** Inodes held by handle that hold a descriptor now, least recently used first. */
  private readonly cached = new Set<MirrorInode>();
  private cacheCapacity = DEFAULT_CACHED_DESCRIPTORS;
  /** Inodes held by descriptor (the root included). */
  private pinnedByDescriptor = 1;
  /** A descriptor open for reading on the source (open_by_handle_at refuses O_PATH ones), or -1: no handles. */
  private handleMount = -1;
  /** Handles are taken of inodes on this device only: open_by_handle_at decodes them on the root's filesystem. */
  private handleDev = -1;
  private readonly handleScratch = Buffer.allocUnsafeSlow(FILE_HANDLE_BYTES);

  /** The source's root, held by descriptor for the table's life. */
  readonly root: MirrorInode;

  /** @param makeRoot builds the root inode, given the table its descriptor comes from */
  constructor(makeRoot: (table: DescriptorSource) => MirrorInode) {
    this.root = makeRoot(this);
    this.byId.set(this.root.nodeid, this.root);
    this.index(this.root);
  }

  /**
   * Holds inodes on the root's filesystem by file handle from now on, if this
   * process may open files by handle (CAP_DAC_READ_SEARCH) and the filesystem
   * gives handles: `mountFd` (open for reading, not O_PATH, on the root) then
   * belongs to the table. Returns whether it does; if not, `mountFd` is left to
   * the caller.
   */
  useFileHandles(mountFd: number): boolean {
    const n = tryNameToHandleAt(this.root.heldFd, '', AT_EMPTY_PATH, this.handleScratch);
    if (n < 0) return false;
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

  /** Keeps at most `n` descriptors for inodes held by handle (inodes with open files are kept beyond it). */
  set cachedDescriptors(n: number) {
    this.cacheCapacity = Math.max(1, Math.floor(n));
    this.shrinkCache();
  }

  get(nodeid: number): MirrorInode | undefined {
    return this.byId.get(nodeid);
  }

  find(dev: number, ino: number): MirrorInode | undefined {
    return this.byDev.get(dev)?.get(ino);
  }

  /**
   * The handle of `name` in `dirfd` (of `dirfd` itself for an empty name with
   * AT_EMPTY_PATH), as held in MirrorInode.handle; undefined if the table does
   * not hold inodes of `dev` by handle, or the call fails.
   */
  handleOf(dev: number, dirfd: number, name: Buffer | string, flags: number): string | undefined {
    if (dev !== this.handleDev) return undefined;
    const n = tryNameToHandleAt(dirfd, name, flags, this.handleScratch);
    return n < 0 ? undefined : this.handleScratch.toString('latin1', 0, n);
  }

  /**
   * Whether `inode` is the file that `name` in `dirfd` names now, the inode
   * numbers being known to match: an inode held by a descriptor cannot have
   * been replaced (its number cannot be reused while we hold it), one held
   * only by handle is the same file if the handles match.
   */
  isStill(inode: MirrorInode, dirfd: number, name: Buffer | string, flags: number): boolean {
    if (inode.pinned || inode.handle === undefined) return true;
    return this.handleOf(inode.dev, dirfd, name, flags) === inode.handle;
  }

  descriptorOf(inode: MirrorInode): number {
    let fd = inode.heldFd;
    if (fd >= 0) {
      // Most recently used last.
      this.cached.delete(inode);
      this.cached.add(inode);
      return fd;
    }
    const handle = this.handleScratch;
    const n = handle.write(inode.handle!, 0, 'latin1');
    fd = tryOpenByHandleAt(this.handleMount, handle.subarray(0, n), O_PATH | O_CLOEXEC);
    // Gone from the source (ESTALE), as an unlinked file is for NFS clients.
    if (fd < 0) throw new FuseError(-fd);
    this.hold(inode, fd);
    return fd;
  }

  /** Marks `inode` as just used: the table iterates least recently used first. */
  touch(inode: MirrorInode): void {
    this.byId.delete(inode.nodeid);
    this.byId.set(inode.nodeid, inode);
  }

  /** Up to `n` node ids, least recently used first (never the root). */
  leastRecentlyUsed(n: number): number[] {
    const out: number[] = [];
    for (const id of this.byId.keys()) {
      if (out.length >= n) break;
      if (id !== this.root.nodeid) out.push(id);
    }
    return out;
  }

  /**
   * Adopts `fd` (an O_PATH descriptor) as a new inode with one kernel
   * reference, held by `handle` if one is given, else by the descriptor.
   * An inode indexed under the same device and inode number is replaced in the
   * index (its file is gone: the number was reused); the kernel keeps its node
   * id until it forgets it.
   */
  add(fd: number, dev: number, ino: number, type: number, handle?: string): MirrorInode {
    const inode = new MirrorInode(this.nextId++ as NodeId, handle === undefined ? fd : -1, dev, ino, type, handle, this);
    inode.nlookup = 1;
    this.byId.set(inode.nodeid, inode);
    this.index(inode);
    if (handle === undefined) this.pinnedByDescriptor++;
    else this.hold(inode, fd);
    return inode;
  }

  /** Gives `inode` (held by handle, holding no descriptor) the descriptor `fd`, which the cache now owns. */
  offer(inode: MirrorInode, fd: number): boolean {
    if (inode.handle === undefined || inode.heldFd >= 0) return false;
    this.hold(inode, fd);
    return true;
  }

  /** Drops `n` kernel references; closes the descriptor when none are left. The root is never dropped. */
  forget(nodeid: number, n: number): void {
    const inode = this.byId.get(nodeid);
    if (!inode || inode === this.root) return;
    inode.nlookup -= n;
    if (inode.nlookup > 0) return;
    this.byId.delete(nodeid);
    const m = this.byDev.get(inode.dev);
    if (m?.get(inode.ino) === inode) {
      m.delete(inode.ino);
      if (m.size === 0) this.byDev.delete(inode.dev);
    }
    if (inode.handle === undefined) this.pinnedByDescriptor--;
    else this.cached.delete(inode);
    // Closing may free the source inode (a file unlinked through the mirror is
    // evicted here, not at UNLINK): done between requests, off the client's
    // path, unless so many wait that they would crowd the descriptor limit.
    if (inode.heldFd >= 0) this.closing.push(inode.heldFd);
    inode.heldFd = -1;
  }

  /** Closes one descriptor of a forgotten inode; false when none is waiting. */
  closeOneForgotten(): boolean {
    return this.closing.closeOne();
  }

  /** Descriptors held: inodes held by descriptor, the cache, and those forgotten but not closed yet. */
  get descriptors(): number {
    return this.pinnedByDescriptor + this.cached.size + this.closing.length;
  }

  get size(): number {
    return this.byId.size;
  }

  /** Closes every descriptor (at shutdown). */
  clear(): void {
    while (this.closeOneForgotten());
    for (const inode of this.byId.values()) {
      if (inode.heldFd >= 0) tryClose(inode.heldFd);
      inode.heldFd = -1;
    }
    this.byId.clear();
    this.byDev.clear();
    this.cached.clear();
    if (this.handleMount >= 0) tryClose(this.handleMount);
    this.handleMount = -1;
  }

  private hold(inode: MirrorInode, fd: number): void {
    inode.heldFd = fd;
    this.cached.add(inode);
    if (this.cached.size > this.cacheCapacity) this.shrinkCache();
  }

  /** Closes the least recently used cached descriptors past the capacity; inodes with open files keep theirs. */
  private shrinkCache(): void {
    let passes = this.cached.size;
    for (const inode of this.cached) {
      if (this.cached.size <= this.cacheCapacity || passes-- <= 0) break;
      this.cached.delete(inode);
      if (inode.pinned && inode.openFile >= 0) {
        this.cached.add(inode);
        continue;
      }
      this.closing.push(inode.heldFd);
      inode.heldFd = -1;
    }
  }

  private index(inode: MirrorInode): void {
    let m = this.byDev.get(inode.dev);
    if (!m) this.byDev.set(inode.dev, (m = new Map()));
    m.set(inode.ino, inode);
  }
}
