/**
 * An in-memory filesystem written only against fusekit's public API: files,
 * directories and symlinks, with hard links counted and unlinked-but-open
 * files kept until their last release.
 *
 *   node dist/examples/memfs.js /mnt/mem
 */
import {
  mount, Errno, FuseError, ROOT_ID, Fattr, RenameFlag, S_IFDIR, S_IFREG, S_IFLNK, S_IFMT,
} from 'fusekit';
import type {
  Attr, AttrOut, EntryOut, Filesystem, NodeId, RequestContext, DirentSink, OpenReply, CreateReply,
  LookupRequest, SetattrRequest, MkdirRequest, CreateRequest, ReadRequest, WriteRequest, UnlinkRequest,
  RmdirRequest, RenameRequest, SymlinkRequest, ReaddirRequest, StatfsOut, LinkRequest, MknodRequest, OpenRequest,
} from 'fusekit';

interface MemNode {
  id: NodeId;
  attr: Attr;
  data: Buffer;
  /** Directory entries by name. */
  children?: Map<string, MemNode>;
  target?: Buffer;
  lookups: number;
  opens: number;
}

const TIMEOUT = 1;

function now(): { sec: number; nsec: number } {
  const ms = Date.now();
  return { sec: Math.floor(ms / 1000), nsec: (ms % 1000) * 1e6 };
}

export class MemoryFilesystem implements Filesystem {
  private readonly nodes = new Map<number, MemNode>();
  private nextId = 2;

  constructor() {
    this.nodes.set(ROOT_ID, this.makeNode(ROOT_ID, S_IFDIR | 0o755, 0, 0));
  }

  private makeNode(id: NodeId, mode: number, uid: number, gid: number): MemNode {
    const t = now();
    const attr: Attr = {
      ino: id, size: 0, blocks: 0, atimeSec: t.sec, atimeNsec: t.nsec, mtimeSec: t.sec, mtimeNsec: t.nsec,
      ctimeSec: t.sec, ctimeNsec: t.nsec, mode, nlink: (mode & S_IFMT) === S_IFDIR ? 2 : 1, uid, gid, rdev: 0, blksize: 4096,
    };
    const node: MemNode = { id, attr, data: Buffer.alloc(0), lookups: 0, opens: 0 };
    if ((mode & S_IFMT) === S_IFDIR) node.children = new Map();
    return node;
  }

  private get(id: number): MemNode {
    const n = this.nodes.get(id);
    if (!n) throw new FuseError('ESTALE');
    return n;
  }

  private dir(id: number): Map<string, MemNode> {
    const n = this.get(id);
    if (!n.children) throw new FuseError('ENOTDIR');
    return n.children;
  }

  private entry(n: MemNode): EntryOut {
    n.lookups++;
    return { nodeid: n.id, generation: 0, entryTimeout: TIMEOUT, attrTimeout: TIMEOUT, attr: n.attr };
  }

  private touch(n: MemNode, what: 'm' | 'c' = 'm'): void {
    const t = now();
    n.attr.ctimeSec = t.sec;
    n.attr.ctimeNsec = t.nsec;
    if (what === 'm') {
      n.attr.mtimeSec = t.sec;
      n.attr.mtimeNsec = t.nsec;
    }
  }

  /** Frees a node once no name, lookup or open refers to it. */
  private maybeFree(n: MemNode): void {
    if (n.attr.nlink === 0 && n.lookups === 0 && n.opens === 0) this.nodes.delete(n.id);
  }

  private add(parent: number, name: string, mode: number, ctx: RequestContext): MemNode {
    const d = this.dir(parent);
    if (d.has(name)) throw new FuseError('EEXIST');
    const n = this.makeNode(this.nextId++ as NodeId, mode, ctx.uid, ctx.gid);
    this.nodes.set(n.id, n);
    d.set(name, n);
    const p = this.get(parent);
    if (n.children) p.attr.nlink++;
    this.touch(p);
    return n;
  }

  lookup(req: LookupRequest, ctx: RequestContext): EntryOut | Errno {
    const n = this.dir(ctx.nodeid).get(req.name);
    // Routine, and asked for constantly: returned, not thrown.
    if (!n) return Errno.of('ENOENT');
    return this.entry(n);
  }

  forget(nodeid: NodeId, nlookup: number): void {
    const n = this.nodes.get(nodeid);
    if (!n) return;
    n.lookups -= nlookup;
    this.maybeFree(n);
  }

  getattr(_req: unknown, ctx: RequestContext): AttrOut {
    return { attrTimeout: TIMEOUT, attr: this.get(ctx.nodeid).attr };
  }

  setattr(req: SetattrRequest, ctx: RequestContext): AttrOut {
    const n = this.get(ctx.nodeid);
    const a = n.attr;
    if (req.valid & Fattr.MODE) a.mode = (a.mode & S_IFMT) | (req.mode & 0o7777);
    if (req.valid & Fattr.UID) a.uid = req.uid;
    if (req.valid & Fattr.GID) a.gid = req.gid;
    if (req.valid & Fattr.SIZE) {
      const data = Buffer.alloc(req.size);
      n.data.copy(data, 0, 0, Math.min(req.size, n.data.length));
      n.data = data;
      a.size = req.size;
      a.blocks = Math.ceil(req.size / 512);
      this.touch(n);
    }
    const t = now();
    if (req.valid & Fattr.ATIME_NOW) [a.atimeSec, a.atimeNsec] = [t.sec, t.nsec];
    else if (req.valid & Fattr.ATIME) [a.atimeSec, a.atimeNsec] = [req.atime.sec, req.atime.nsec];
    if (req.valid & Fattr.MTIME_NOW) [a.mtimeSec, a.mtimeNsec] = [t.sec, t.nsec];
    else if (req.valid & Fattr.MTIME) [a.mtimeSec, a.mtimeNsec] = [req.mtime.sec, req.mtime.nsec];
    this.touch(n, 'c');
    return { attrTimeout: TIMEOUT, attr: a };
  }

  mkdir(req: MkdirRequest, ctx: RequestContext): EntryOut {
    return this.entry(this.add(ctx.nodeid, req.name, S_IFDIR | (req.mode & 0o7777), ctx));
  }

  mknod(req: MknodRequest, ctx: RequestContext): EntryOut {
    if ((req.mode & S_IFMT) !== S_IFREG) throw new FuseError('EPERM');
    return this.entry(this.add(ctx.nodeid, req.name, req.mode, ctx));
  }

  create(req: CreateRequest, ctx: RequestContext): CreateReply {
    const n = this.add(ctx.nodeid, req.name, S_IFREG | (req.mode & 0o7777), ctx);
    n.opens++;
    return { entry: this.entry(n), open: { fh: n.id } };
  }

  symlink(req: SymlinkRequest, ctx: RequestContext): EntryOut {
    const n = this.add(ctx.nodeid, req.name, S_IFLNK | 0o777, ctx);
    n.target = Buffer.from(req.targetBytes);
    n.attr.size = n.target.length;
    return this.entry(n);
  }

  readlink(_req: unknown, ctx: RequestContext): Buffer {
    const n = this.get(ctx.nodeid);
    if (!n.target) throw new FuseError('EINVAL');
    return n.target;
  }

  link(req: LinkRequest, ctx: RequestContext): EntryOut {
    const n = this.get(req.oldnodeid);
    const d = this.dir(ctx.nodeid);
    if (d.has(req.name)) throw new FuseError('EEXIST');
    d.set(req.name, n);
    n.attr.nlink++;
    this.touch(n, 'c');
    return this.entry(n);
  }

  private removeName(parent: number, name: string, wantDir: boolean): void {
    const d = this.dir(parent);
    const n = d.get(name);
    if (!n) throw new FuseError('ENOENT');
    if (wantDir && !n.children) throw new FuseError('ENOTDIR');
    if (!wantDir && n.children) throw new FuseError('EISDIR');
    if (n.children && n.children.size > 0) throw new FuseError('ENOTEMPTY');
    d.delete(name);
    n.attr.nlink = n.children ? 0 : n.attr.nlink - 1;
    if (n.children) this.get(parent).attr.nlink--;
    this.touch(this.get(parent));
    this.maybeFree(n);
  }

  unlink(req: UnlinkRequest, ctx: RequestContext): void {
    this.removeName(ctx.nodeid, req.name, false);
  }

  rmdir(req: RmdirRequest, ctx: RequestContext): void {
    this.removeName(ctx.nodeid, req.name, true);
  }

  rename(req: RenameRequest, ctx: RequestContext): void {
    const from = this.dir(ctx.nodeid);
    const to = this.dir(req.newdir);
    const n = from.get(req.name);
    if (!n) throw new FuseError('ENOENT');
    const existing = to.get(req.newName);
    if (req.flags & RenameFlag.EXCHANGE) {
      if (!existing) throw new FuseError('ENOENT');
      from.set(req.name, existing);
      to.set(req.newName, n);
      return;
    }
    if (existing) {
      if (req.flags & RenameFlag.NOREPLACE) throw new FuseError('EEXIST');
      if (existing === n) return;
      this.removeName(req.newdir, req.newName, !!existing.children);
    }
    from.delete(req.name);
    to.set(req.newName, n);
  }

  open(_req: OpenRequest, ctx: RequestContext): OpenReply {
    const n = this.get(ctx.nodeid);
    n.opens++;
    return { fh: n.id };
  }

  release(_req: unknown, ctx: RequestContext): void {
    const n = this.nodes.get(ctx.nodeid);
    if (!n) return;
    n.opens--;
    this.maybeFree(n);
  }

  read(req: ReadRequest, ctx: RequestContext): Buffer {
    const n = this.get(ctx.nodeid);
    return n.data.subarray(Math.min(req.offset, n.data.length), Math.min(req.offset + req.size, n.data.length));
  }

  write(req: WriteRequest, ctx: RequestContext): number {
    const n = this.get(ctx.nodeid);
    const end = req.offset + req.data.length;
    if (end > n.data.length) {
      const grown = Buffer.alloc(Math.max(end, n.data.length * 2));
      n.data.copy(grown);
      n.data = grown;
    }
    req.data.copy(n.data, req.offset);
    if (end > n.attr.size) {
      n.attr.size = end;
      n.attr.blocks = Math.ceil(end / 512);
    }
    this.touch(n);
    return req.data.length;
  }

  readdir(req: ReaddirRequest, ctx: RequestContext, out: DirentSink): void {
    const names = [...this.dir(ctx.nodeid).entries()];
    const all: [string, MemNode][] = [['.', this.get(ctx.nodeid)], ['..', this.get(ctx.nodeid)], ...names];
    // Cookies are positions in this listing: simple, and stable enough for an example.
    for (let i = Number(req.offset); i < all.length; i++) {
      const [name, n] = all[i];
      if (!out.add(name, n.attr.ino, (n.attr.mode & S_IFMT) >> 12, BigInt(i + 1))) return;
    }
  }

  statfs(): StatfsOut {
    let bytes = 0;
    for (const n of this.nodes.values()) bytes += n.data.length;
    return { blocks: 1 << 20, bfree: (1 << 20) - Math.ceil(bytes / 4096), bavail: (1 << 20) - Math.ceil(bytes / 4096), files: this.nodes.size, ffree: 1 << 20, bsize: 4096, namelen: 255, frsize: 4096 };
  }
}

// Run as a program: mount until SIGINT/SIGTERM (which unmount, then end the process).
if (import.meta.url === `file://${process.argv[1]}`) {
  const target = process.argv[2];
  if (!target) {
    process.stderr.write('usage: memfs MOUNTPOINT\n');
    process.exit(2);
  }
  const m = await mount(target, new MemoryFilesystem(), { source: 'memfs', subtype: 'memfs', unmountOnSignal: true });
  await m.ended;
}
