/**
 * The mirror's inode table. Each inode the kernel knows is held as an O_PATH
 * descriptor of the source file, keyed by (st_dev, st_ino): a descriptor keeps
 * naming the same file when it is renamed in the source behind our back, and
 * holding it pins the inode number so it cannot be reused while we know it.
 */
import type { NodeId } from '../fs/filesystem.js';
import { tryClose } from '../sys/index.js';
import { DeferredCloses } from '../sys/deferred-close.js';

/** The path through which a descriptor's file can be named again. */
export function procPath(fd: number): string {
  return `/proc/self/fd/${fd}`;
}

export class MirrorInode {
  /** The kernel's references (lookups minus forgets). */
  nlookup = 0;
  constructor(
    readonly nodeid: NodeId,
    readonly fd: number,
    readonly dev: number,
    readonly ino: number,
    /** S_IFMT bits: the type never changes for a given inode. */
    readonly type: number,
  ) {}

  /** /proc/self/fd/N: how calls that take no O_PATH descriptor (xattrs, reopening) reach the file. */
  get procPath(): string {
    return (this.path ??= procPath(this.fd));
  }
  private path: string | undefined;

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

export class InodeTable {
  private readonly byId = new Map<number, MirrorInode>();
  private readonly byDev = new Map<number, Map<number, MirrorInode>>();
  private nextId = 2;
  /** Descriptors of forgotten inodes, closed between requests. */
  private readonly closing = new DeferredCloses<number>((fd) => void tryClose(fd));

  constructor(readonly root: MirrorInode) {
    this.byId.set(root.nodeid, root);
    this.index(root);
  }

  get(nodeid: number): MirrorInode | undefined {
    return this.byId.get(nodeid);
  }

  find(dev: number, ino: number): MirrorInode | undefined {
    return this.byDev.get(dev)?.get(ino);
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

  /** Adopts `fd` as a new inode with one kernel reference. */
  add(fd: number, dev: number, ino: number, type: number): MirrorInode {
    const inode = new MirrorInode(this.nextId++ as NodeId, fd, dev, ino, type);
    inode.nlookup = 1;
    this.byId.set(inode.nodeid, inode);
    this.index(inode);
    return inode;
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
    // Closing may free the source inode (a file unlinked through the mirror is
    // evicted here, not at UNLINK): done between requests, off the client's
    // path, unless so many wait that they would crowd the descriptor limit.
    this.closing.push(inode.fd);
  }

  /** Closes one descriptor of a forgotten inode; false when none is waiting. */
  closeOneForgotten(): boolean {
    return this.closing.closeOne();
  }

  /** Descriptors held: inodes known plus those forgotten but not closed yet. */
  get descriptors(): number {
    return this.byId.size + this.closing.length;
  }

  get size(): number {
    return this.byId.size;
  }

  /** Closes every descriptor (at shutdown). */
  clear(): void {
    while (this.closeOneForgotten());
    for (const inode of this.byId.values()) tryClose(inode.fd);
    this.byId.clear();
    this.byDev.clear();
  }

  private index(inode: MirrorInode): void {
    let m = this.byDev.get(inode.dev);
    if (!m) this.byDev.set(inode.dev, (m = new Map()));
    m.set(inode.ino, inode);
  }
}
