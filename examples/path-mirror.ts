/**
 * A mirror of a directory written against the path API, with kernel
 * passthrough: every open returns its descriptor as the backing file, so
 * reads, writes and mmap go from the kernel straight to the source file.
 *
 *   node dist/examples/path-mirror.js [mirror] SRC MNT [-o allow_other,default_permissions,entry_timeout=S,attr_timeout=S]
 *                                     [--passthrough auto|always|readonly|never] [--stats-file FILE]
 *
 * Node's `fs` does most of the work; the few calls it lacks (renameat2 flags,
 * mknod, utimensat with UTIME_OMIT, fallocate, SEEK_DATA/SEEK_HOLE,
 * copy_file_range, xattrs of the link itself) come from fusekit's system-call
 * bindings in `src/sys/`, which are internal, not part of the package's API:
 * a copy of this example outside the repository needs its own bindings for
 * them (koffi, as `src/sys/` does, or an npm package), or must leave those
 * operations out. Files created through the mount belong to the caller.
 *
 * Compared with `fusekit mirror` (the inode-level mirror): it reaches the
 * source by path, so a directory swapped for a symlink inside SRC by someone
 * else between two calls could lead it outside SRC (the inode mirror holds
 * descriptors and never follows a link); names must be UTF-8; and a file
 * renamed inside SRC behind the mount's back is lost to the mount until the
 * caches expire. Use it as an example; use `fusekit mirror` to serve a tree.
 */
import * as fs from 'node:fs';
import { constants as C } from 'node:fs';
import { mountPaths, Errno, Fopen, InitFlag, S_IFMT } from 'fusekit';
import type { CreateContext, InitInfo, OpenReply, PathAttr, PathDirent, PathFilesystem, RequestContext, StatfsOut, Timespec } from 'fusekit';
import {
  AT_FDCWD, AT_SYMLINK_NOFOLLOW, AT_SYMLINK_FOLLOW, O_TMPFILE, UTIME_OMIT, S_ISGID, S_ISUID, S_IXGRP, renameat2, mknodat,
  utimensat, fallocate, lseek, copyFileRange, linkat, lsetxattr, lgetxattr, llistxattr, lremovexattr, geteuid, getegid,
} from '../src/sys/index.js';

const ENOENT = Errno.of('ENOENT');
const S_IFREG = 0o100000;

/** Mode bits Node's Dirent does not give directly. */
function direntMode(d: fs.Dirent): number {
  if (d.isDirectory()) return 0o040000;
  if (d.isFile()) return S_IFREG;
  if (d.isSymbolicLink()) return 0o120000;
  if (d.isFIFO()) return 0o010000;
  if (d.isSocket()) return 0o140000;
  if (d.isCharacterDevice()) return 0o020000;
  if (d.isBlockDevice()) return 0o060000;
  return 0;
}

export class PathMirror implements PathFilesystem {
  /**
   * DONT_MASK: the caller's umask is applied by the source filesystem (which
   * ignores it under a default ACL, as for a local caller). POSIX_ACL (when
   * the kernel checks permissions): the kernel enforces the source's ACLs.
   */
  readonly initFlags: bigint;
  private readonly serverUid = geteuid();
  private readonly serverGid = getegid();
  private umaskInServer = false;
  private umaskNow = 0;

  constructor(readonly source: string, options: { enforcePermissions?: boolean } = {}) {
    // ATOMIC_O_TRUNC: open(2) of the source file with the caller's flags truncates it itself.
    this.initFlags = InitFlag.DONT_MASK | InitFlag.ATOMIC_O_TRUNC | (options.enforcePermissions ? InitFlag.POSIX_ACL : 0n);
  }

  private src(path: string): string {
    return path === '/' ? this.source : this.source + path;
  }

  init(info: InitInfo): void {
    this.umaskInServer = (info.enabled & InitFlag.DONT_MASK) !== 0n;
    process.umask(0);
  }

  /** Creates under the caller's umask (DONT_MASK), so the source applies it or a default ACL overrides it. */
  private underUmask<T>(ctx: CreateContext, create: () => T): T {
    if (this.umaskInServer && ctx.umask !== this.umaskNow) {
      process.umask(ctx.umask);
      this.umaskNow = ctx.umask;
    }
    return create();
  }

  getattr(path: string | null, fh: number | undefined): PathAttr | Errno {
    if (fh !== undefined) return fs.fstatSync(fh, { bigint: true });
    if (path === null) return ENOENT;
    // A missing name is routine: no exception for it.
    return fs.lstatSync(this.src(path), { bigint: true, throwIfNoEntry: false }) ?? ENOENT;
  }

  /** New files belong to the caller; a set-group-ID directory passes its group on. */
  private giveToCaller(path: string, ctx: RequestContext, fd?: number, dir?: string): void {
    if (ctx.uid === this.serverUid && ctx.gid === this.serverGid) return;
    const parent = dir ?? (path.slice(0, path.lastIndexOf('/')) || '/');
    const gid = fs.statSync(this.src(parent)).mode & S_ISGID ? -1 : ctx.gid;
    if (fd !== undefined) fs.fchownSync(fd, ctx.uid, gid);
    else fs.lchownSync(this.src(path), ctx.uid, gid);
  }

  readlink(path: string): string {
    return fs.readlinkSync(this.src(path));
  }

  mknod(path: string, mode: number, rdev: number, ctx: CreateContext): void {
    this.underUmask(ctx, () => mknodat(AT_FDCWD, this.src(path), mode, rdev));
    this.giveToCaller(path, ctx);
  }

  mkdir(path: string, mode: number, ctx: CreateContext): void {
    this.underUmask(ctx, () => fs.mkdirSync(this.src(path), mode));
    this.giveToCaller(path, ctx);
  }

  symlink(target: string, path: string, ctx: RequestContext): void {
    fs.symlinkSync(target, this.src(path));
    this.giveToCaller(path, ctx);
  }

  unlink(path: string): void {
    fs.unlinkSync(this.src(path));
  }

  rmdir(path: string): void {
    fs.rmdirSync(this.src(path));
  }

  rename(from: string, to: string, flags: number): void {
    renameat2(AT_FDCWD, this.src(from), AT_FDCWD, this.src(to), flags);
  }

  link(existing: string | null, path: string, fh: number | undefined): void {
    // A file without a name (O_TMPFILE) is linked through its descriptor.
    if (existing === null) linkat(AT_FDCWD, `/proc/self/fd/${fh}`, AT_FDCWD, this.src(path), AT_SYMLINK_FOLLOW);
    else fs.linkSync(this.src(existing), this.src(path));
  }

  chmod(path: string | null, mode: number, fh: number | undefined): void | Errno {
    if (fh !== undefined) return fs.fchmodSync(fh, mode & 0o7777);
    if (path === null) return ENOENT;
    fs.chmodSync(this.src(path), mode & 0o7777);
  }

  chown(path: string | null, uid: number, gid: number, fh: number | undefined): void | Errno {
    if (fh !== undefined) return fs.fchownSync(fh, uid, gid);
    if (path === null) return ENOENT;
    fs.lchownSync(this.src(path), uid, gid);
  }

  truncate(path: string | null, size: number, fh: number | undefined): void | Errno {
    if (fh !== undefined) return fs.ftruncateSync(fh, size);
    if (path === null) return ENOENT;
    fs.truncateSync(this.src(path), size);
  }

  utimens(path: string | null, atime: Timespec | undefined, mtime: Timespec | undefined, fh: number | undefined): void | Errno {
    const omit = { sec: 0, nsec: UTIME_OMIT };
    if (path === null && fh === undefined) return ENOENT;
    const target = path === null ? `/proc/self/fd/${fh}` : this.src(path);
    utimensat(AT_FDCWD, target, atime ?? omit, mtime ?? omit, path === null ? 0 : AT_SYMLINK_NOFOLLOW);
  }

  /** The descriptor is the handle and the backing file; set-ID files stay off passthrough (its writes would not clear the bits). */
  private opened(fd: number, flags: number): OpenReply {
    const mode = Number(fs.fstatSync(fd).mode);
    const backing = (mode & S_IFMT) === S_IFREG && !(mode & (S_ISUID | S_ISGID)) ? { fd } : undefined;
    return { fh: fd, backing, openFlags: flags & C.O_DIRECT ? Fopen.DIRECT_IO : Fopen.KEEP_CACHE };
  }

  open(path: string, flags: number, ctx: RequestContext): OpenReply {
    const fd = fs.openSync(this.src(path), flags & ~(C.O_CREAT | C.O_EXCL | C.O_NOCTTY | C.O_DIRECT | C.O_NOFOLLOW));
    // The kernel leaves O_TRUNC to us (atomic truncation): as the VFS would for an unprivileged caller, drop set-ID bits.
    if (flags & C.O_TRUNC && ctx.uid !== 0) this.killSetId(fd);
    return this.opened(fd, flags);
  }

  /** Clears set-user-ID, and set-group-ID when group-executable. */
  private killSetId(fd: number): void {
    const mode = fs.fstatSync(fd).mode;
    const kill = (mode & S_ISUID) | (mode & S_IXGRP ? mode & S_ISGID : 0);
    if (kill) fs.fchmodSync(fd, mode & 0o7777 & ~kill);
  }

  create(path: string, mode: number, flags: number, ctx: CreateContext): OpenReply {
    const fd = this.underUmask(ctx, () => fs.openSync(this.src(path), (flags & ~(C.O_NOCTTY | C.O_DIRECT | C.O_NOFOLLOW)) | C.O_CREAT, mode & 0o7777));
    return this.ownedOpen(fd, path, flags, ctx);
  }

  private ownedOpen(fd: number, path: string, flags: number, ctx: RequestContext, dir?: string): OpenReply {
    try {
      this.giveToCaller(path, ctx, fd, dir);
      return this.opened(fd, flags);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
  }

  tmpfile(dir: string, mode: number, flags: number, ctx: CreateContext): OpenReply {
    const fd = this.underUmask(ctx, () => fs.openSync(this.src(dir), (flags & ~(C.O_NOCTTY | C.O_DIRECT | C.O_NOFOLLOW | C.O_DIRECTORY)) | O_TMPFILE, mode & 0o7777));
    return this.ownedOpen(fd, dir, flags, ctx, dir);
  }

  read(_path: string | null, fh: number, dest: Buffer, offset: number): Promise<number> {
    return new Promise((resolve, reject) => fs.read(fh, dest, 0, dest.length, offset, (err, n) => (err ? reject(err) : resolve(n))));
  }

  write(_path: string | null, fh: number, data: Buffer, offset: number): Promise<number> {
    return new Promise((resolve, reject) => fs.write(fh, data, 0, data.length, offset, (err, n) => (err ? reject(err) : resolve(n))));
  }

  release(_path: string | null, fh: number): void {
    fs.closeSync(fh);
  }

  fsync(_path: string | null, fh: number, datasync: boolean): Promise<void> {
    return new Promise((resolve, reject) => (datasync ? fs.fdatasync : fs.fsync)(fh, (err) => (err ? reject(err) : resolve())));
  }

  fallocate(_path: string | null, fh: number, mode: number, offset: number, length: number): void {
    fallocate(fh, mode, offset, length);
  }

  lseek(_path: string | null, fh: number, offset: number, whence: number): number {
    return lseek(fh, offset, whence);
  }

  copyFileRange(_a: string | null, fhIn: number, offIn: number, _b: string | null, fhOut: number, offOut: number, length: number): number {
    return copyFileRange(fhIn, offIn, fhOut, offOut, length, 0);
  }

  readdir(path: string): PathDirent[] {
    return fs.readdirSync(this.src(path), { withFileTypes: true }).map((d) => ({ name: d.name, attr: { mode: direntMode(d) } }));
  }

  fsyncdir(path: string | null): void | Errno {
    if (path === null) return ENOENT;
    const fd = fs.openSync(this.src(path), C.O_RDONLY | C.O_DIRECTORY);
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  statfs(path: string): StatfsOut {
    const s = fs.statfsSync(this.src(path));
    return { blocks: s.blocks, bfree: s.bfree, bavail: s.bavail, files: s.files, ffree: s.ffree, bsize: s.bsize, namelen: 255, frsize: s.bsize };
  }

  setxattr(path: string | null, name: string, value: Buffer, flags: number): void | Errno {
    if (path === null) return ENOENT;
    lsetxattr(this.src(path), name, value, flags);
  }

  getxattr(path: string | null, name: string): Buffer | Errno {
    if (path === null) return ENOENT;
    const p = this.src(path);
    try {
      const buf = Buffer.allocUnsafe(lgetxattr(p, name, null));
      return buf.subarray(0, lgetxattr(p, name, buf));
    } catch (err) {
      // Not set is the usual answer (the kernel asks for security.capability before writes).
      const code = (err as { code?: string }).code;
      return code ? Errno.of(code) : Errno.of('EIO');
    }
  }

  listxattr(path: string | null): Buffer[] | Errno {
    if (path === null) return ENOENT;
    const p = this.src(path);
    const buf = Buffer.allocUnsafe(llistxattr(p, null));
    const n = llistxattr(p, buf);
    const names: Buffer[] = [];
    for (let start = 0, i = 0; i < n; i++) {
      if (buf[i] === 0) {
        names.push(buf.subarray(start, i));
        start = i + 1;
      }
    }
    return names;
  }

  removexattr(path: string | null, name: string): void | Errno {
    if (path === null) return ENOENT;
    lremovexattr(this.src(path), name);
  }
}

// Run as a program: mount until SIGINT/SIGTERM (then unmount and exit 0).
if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  if (args[0] === 'mirror') args.shift();
  const positional: string[] = [];
  const o: string[] = [];
  let policy: 'auto' | 'always' | 'readonly' | 'never' = 'auto';
  let statsFile: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-o') o.push(...(args[++i] ?? '').split(','));
    else if (a === '--passthrough') policy = args[++i] as typeof policy;
    else if (a === '--stats-file') statsFile = args[++i];
    else positional.push(a);
  }
  const [source, target] = positional;
  if (!source || !target) {
    process.stderr.write('usage: path-mirror [mirror] SRC MNT [-o opt,...] [--passthrough POLICY]\n');
    process.exit(2);
  }
  const num = (name: string) => {
    const v = o.find((x) => x.startsWith(name + '='));
    return v === undefined ? undefined : Number(v.slice(name.length + 1));
  };
  const allowOther = o.includes('allow_other');
  const enforcePermissions = allowOther || o.includes('default_permissions');
  const m = await mountPaths(target, new PathMirror(fs.realpathSync(source), { enforcePermissions }), {
    source,
    subtype: 'fusekit',
    allowOther,
    // Everyone let in is checked by the kernel against the source's modes.
    defaultPermissions: enforcePermissions,
    entryTimeout: num('entry_timeout'),
    attrTimeout: num('attr_timeout'),
    passthrough: { policy },
  });
  let stopping = false;
  const stop = () => {
    if (stopping) return void m.abort();
    stopping = true;
    void m.unmount({ lazy: true });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // Passthrough counters for whoever watches (the conformance runner reads them at exit).
  const writeStats = () => {
    if (statsFile) fs.writeFileSync(statsFile, JSON.stringify({ passthrough: m.session.passthroughStats() }));
  };
  const statsTimer = setInterval(writeStats, 1000);
  await m.ended;
  clearInterval(statsTimer);
  writeStats();
  process.exit(0);
}
