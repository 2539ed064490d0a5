/**
 * An in-memory read-write filesystem written against the path API: files,
 * directories, symlinks, hard links and extended attributes. Open files are
 * served by handle, so a file unlinked while open keeps working through its
 * descriptors, as on a local disk.
 *
 *   node dist/examples/path-memfs.js /mnt/mem
 */
import { mountPaths, Errno, FuseError, RenameFlag, S_IFDIR, S_IFREG, S_IFLNK, S_IFMT } from 'fusekit';
import type { PathAttr, PathDirent, PathFilesystem, RequestContext, StatfsOut, Timespec } from 'fusekit';

/** One file, directory or symlink; several names may share it (hard links). */
interface MemInode {
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  rdev: number;
  data: Buffer;
  size: number;
  children?: Map<string, MemInode>;
  target?: string;
  xattrs: Map<string, Buffer>;
  atime: Timespec;
  mtime: Timespec;
  ctime: Timespec;
}

function now(): Timespec {
  const ms = Date.now();
  return { sec: Math.floor(ms / 1000), nsec: (ms % 1000) * 1e6 };
}

const ENOENT = Errno.of('ENOENT');

export class PathMemoryFilesystem implements PathFilesystem {
  /** Listings carry full attributes at no cost here: let the kernel have them (READDIRPLUS). */
  readonly readdirPlus = true;
  private nextIno = 2;
  private readonly root: MemInode;
  /** Open files by handle: the handle, not the path, reaches the data. */
  private readonly openFiles = new Map<number, MemInode>();
  private nextFh = 1;

  constructor() {
    this.root = this.make(S_IFDIR | 0o755, 0, 0);
    this.root.ino = 1;
  }

  private make(mode: number, uid: number, gid: number): MemInode {
    const t = now();
    const node: MemInode = {
      ino: this.nextIno++, mode, uid, gid, nlink: (mode & S_IFMT) === S_IFDIR ? 2 : 1, rdev: 0,
      data: Buffer.alloc(0), size: 0, xattrs: new Map(), atime: t, mtime: t, ctime: t,
    };
    if ((mode & S_IFMT) === S_IFDIR) node.children = new Map();
    return node;
  }

  /** The inode at `path`, or undefined. */
  private find(path: string): MemInode | undefined {
    let n: MemInode | undefined = this.root;
    if (path === '/') return n;
    for (const part of path.slice(1).split('/')) {
      n = n?.children?.get(part);
      if (!n) return undefined;
    }
    return n;
  }

  /** The parent directory of `path` and the last name. */
  private parentOf(path: string): { dir: MemInode; name: string } {
    const i = path.lastIndexOf('/');
    const dir = this.find(i === 0 ? '/' : path.slice(0, i));
    if (!dir) throw new FuseError('ENOENT');
    if (!dir.children) throw new FuseError('ENOTDIR');
    return { dir, name: path.slice(i + 1) };
  }

  /** The inode an operation means: the open file's when there is a handle, else the path's. */
  private target(path: string | null, fh: number | undefined): MemInode | undefined {
    if (fh !== undefined && this.openFiles.has(fh)) return this.openFiles.get(fh);
    return path === null ? undefined : this.find(path);
  }

  private attrOf(n: MemInode): PathAttr {
    return {
      ino: n.ino, mode: n.mode, nlink: n.nlink, uid: n.uid, gid: n.gid, rdev: n.rdev, size: n.size,
      blocks: Math.ceil(n.size / 512), blksize: 4096, atime: n.atime, mtime: n.mtime, ctime: n.ctime,
    };
  }

  private add(path: string, mode: number, ctx: RequestContext): MemInode {
    const { dir, name } = this.parentOf(path);
    if (dir.children!.has(name)) throw new FuseError('EEXIST');
    const n = this.make(mode, ctx.uid, ctx.gid);
    dir.children!.set(name, n);
    if (n.children) dir.nlink++;
    dir.mtime = dir.ctime = now();
    return n;
  }

  getattr(path: string | null, fh: number | undefined): PathAttr | Errno {
    const n = this.target(path, fh);
    return n ? this.attrOf(n) : ENOENT;
  }

  readdir(path: string): PathDirent[] | Errno {
    const n = this.find(path);
    if (!n) return ENOENT;
    if (!n.children) return Errno.of('ENOTDIR');
    return [...n.children].map(([name, child]) => ({ name, attr: this.attrOf(child) }));
  }

  mkdir(path: string, mode: number, ctx: RequestContext): PathAttr {
    return this.attrOf(this.add(path, S_IFDIR | (mode & 0o7777), ctx));
  }

  mknod(path: string, mode: number, rdev: number, ctx: RequestContext): PathAttr {
    const n = this.add(path, mode, ctx);
    n.rdev = rdev;
    return this.attrOf(n);
  }

  symlink(target: string, path: string, ctx: RequestContext): PathAttr {
    const n = this.add(path, S_IFLNK | 0o777, ctx);
    n.target = target;
    n.size = Buffer.byteLength(target);
    return this.attrOf(n);
  }

  readlink(path: string): string | Errno {
    const n = this.find(path);
    if (!n) return ENOENT;
    return n.target ?? Errno.of('EINVAL');
  }

  link(existing: string | null, path: string, fh: number | undefined): PathAttr | Errno {
    const n = this.target(existing, fh);
    if (!n) return ENOENT;
    if (n.children) return Errno.of('EPERM');
    const { dir, name } = this.parentOf(path);
    if (dir.children!.has(name)) return Errno.of('EEXIST');
    dir.children!.set(name, n);
    n.nlink++;
    n.ctime = dir.mtime = dir.ctime = now();
    return this.attrOf(n);
  }

  /** Drops one name of `n` (a file's data lives on while a handle has it open). */
  private unname(dir: MemInode, name: string, n: MemInode): void {
    dir.children!.delete(name);
    if (n.children) {
      n.nlink = 0;
      dir.nlink--;
    } else {
      n.nlink--;
    }
    n.ctime = dir.mtime = dir.ctime = now();
  }

  unlink(path: string): void | Errno {
    const { dir, name } = this.parentOf(path);
    const n = dir.children!.get(name);
    if (!n) return ENOENT;
    if (n.children) return Errno.of('EISDIR');
    this.unname(dir, name, n);
  }

  rmdir(path: string): void | Errno {
    const { dir, name } = this.parentOf(path);
    const n = dir.children!.get(name);
    if (!n) return ENOENT;
    if (!n.children) return Errno.of('ENOTDIR');
    if (n.children.size > 0) return Errno.of('ENOTEMPTY');
    this.unname(dir, name, n);
  }

  rename(from: string, to: string, flags: number): void | Errno {
    const a = this.parentOf(from);
    const b = this.parentOf(to);
    const n = a.dir.children!.get(a.name);
    if (!n) return ENOENT;
    const existing = b.dir.children!.get(b.name);
    if (flags & RenameFlag.EXCHANGE) {
      if (!existing) return ENOENT;
      a.dir.children!.set(a.name, existing);
      b.dir.children!.set(b.name, n);
      return;
    }
    if (flags & ~RenameFlag.NOREPLACE) return Errno.of('EINVAL');
    if (existing) {
      if (flags & RenameFlag.NOREPLACE) return Errno.of('EEXIST');
      if (existing === n) return;
      if (existing.children && !n.children) return Errno.of('EISDIR');
      if (!existing.children && n.children) return Errno.of('ENOTDIR');
      if (existing.children && existing.children.size > 0) return Errno.of('ENOTEMPTY');
      this.unname(b.dir, b.name, existing);
    }
    a.dir.children!.delete(a.name);
    b.dir.children!.set(b.name, n);
    if (n.children && a.dir !== b.dir) {
      a.dir.nlink--;
      b.dir.nlink++;
    }
    n.ctime = a.dir.mtime = b.dir.mtime = now();
  }

  chmod(path: string | null, mode: number, fh: number | undefined): void | Errno {
    const n = this.target(path, fh);
    if (!n) return ENOENT;
    n.mode = (n.mode & S_IFMT) | (mode & 0o7777);
    n.ctime = now();
  }

  chown(path: string | null, uid: number, gid: number, fh: number | undefined): void | Errno {
    const n = this.target(path, fh);
    if (!n) return ENOENT;
    if (uid !== -1) n.uid = uid;
    if (gid !== -1) n.gid = gid;
    n.ctime = now();
  }

  truncate(path: string | null, size: number, fh: number | undefined): void | Errno {
    const n = this.target(path, fh);
    if (!n) return ENOENT;
    if (n.children) return Errno.of('EISDIR');
    this.resize(n, size);
    n.size = size;
    n.mtime = n.ctime = now();
  }

  utimens(path: string | null, atime: Timespec | undefined, mtime: Timespec | undefined, fh: number | undefined): void | Errno {
    const n = this.target(path, fh);
    if (!n) return ENOENT;
    if (atime) n.atime = atime;
    if (mtime) n.mtime = mtime;
    n.ctime = now();
  }

  private handle(n: MemInode): number {
    const fh = this.nextFh++;
    this.openFiles.set(fh, n);
    return fh;
  }

  open(path: string): number | Errno {
    const n = this.find(path);
    return n ? this.handle(n) : ENOENT;
  }

  create(path: string, mode: number, _flags: number, ctx: RequestContext): number {
    return this.handle(this.add(path, S_IFREG | (mode & 0o7777), ctx));
  }

  release(_path: string | null, fh: number): void {
    this.openFiles.delete(fh);
  }

  read(_path: string | null, fh: number, dest: Buffer, offset: number): number | Errno {
    const n = this.openFiles.get(fh);
    if (!n) return Errno.of('EBADF');
    if (offset >= n.size) return 0;
    return n.data.copy(dest, 0, offset, Math.min(n.size, offset + dest.length));
  }

  private resize(n: MemInode, size: number): void {
    if (size > n.data.length) {
      const grown = Buffer.alloc(Math.max(size, n.data.length * 2));
      n.data.copy(grown, 0, 0, n.size);
      n.data = grown;
    } else if (size < n.size) {
      n.data.fill(0, size, n.size);
    }
  }

  write(_path: string | null, fh: number, data: Buffer, offset: number): number | Errno {
    const n = this.openFiles.get(fh);
    if (!n) return Errno.of('EBADF');
    const end = offset + data.length;
    if (end > n.size) {
      this.resize(n, end);
      n.size = end;
    }
    data.copy(n.data, offset);
    n.mtime = n.ctime = now();
    return data.length;
  }

  statfs(): StatfsOut {
    return { blocks: 1 << 20, bfree: 1 << 19, bavail: 1 << 19, files: 1 << 20, ffree: 1 << 19, bsize: 4096, namelen: 255, frsize: 4096 };
  }

  setxattr(path: string | null, name: string, value: Buffer, flags: number): void | Errno {
    // system.posix_acl_* hold permissions this filesystem does not enforce.
    // Stored as plain bytes, `cp -a` and `mv` would take the copied ACL (and
    // with it the mode) as set, and leave files at the mode they were created
    // with (0600); refused, they fall back to chmod.
    if (name.startsWith('system.')) return Errno.of('EOPNOTSUPP');
    const n = this.target(path, undefined);
    if (!n) return ENOENT;
    if (flags & 1 && n.xattrs.has(name)) return Errno.of('EEXIST');
    if (flags & 2 && !n.xattrs.has(name)) return Errno.of('ENODATA');
    n.xattrs.set(name, Buffer.from(value));
  }

  getxattr(path: string | null, name: string): Buffer | Errno {
    const n = this.target(path, undefined);
    if (!n) return ENOENT;
    return n.xattrs.get(name) ?? Errno.of('ENODATA');
  }

  listxattr(path: string | null): string[] | Errno {
    const n = this.target(path, undefined);
    return n ? [...n.xattrs.keys()] : ENOENT;
  }

  removexattr(path: string | null, name: string): void | Errno {
    const n = this.target(path, undefined);
    if (!n) return ENOENT;
    return n.xattrs.delete(name) ? undefined : Errno.of('ENODATA');
  }
}

// Run as a program: mount until SIGINT/SIGTERM (which unmount, then end the process).
if (import.meta.url === `file://${process.argv[1]}`) {
  const target = process.argv[2];
  if (!target) {
    process.stderr.write('usage: path-memfs MOUNTPOINT\n');
    process.exit(2);
  }
  const m = await mountPaths(target, new PathMemoryFilesystem(), { source: 'path-memfs', subtype: 'path-memfs', unmountOnSignal: true });
  await m.ended;
}
