/**
 * `PathAdapter`: an inode-level `Filesystem` that serves a `PathFilesystem`.
 * It owns the node table (see nodes.ts) and turns every request on a node id
 * into a call with that node's current path. The rules it keeps (unlinked
 * while open, renames against requests in flight, listings, READDIRPLUS,
 * caching) are documented in filesystem.ts.
 */
import { constants as osConstants } from 'node:os';
import { constants as fsConstants } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { Fattr, FSYNC_FDATASYNC, GETATTR_FH, InitFlag, RenameFlag, ROOT_ID } from '../abi/constants.js';
import { direntSize, encodeDirent, nameLength } from '../abi/encode.js';
import type {
  AccessRequest, Attr, CopyFileRangeRequest, CreateRequest, FallocateRequest, FlushRequest, FsyncRequest,
  FsyncdirRequest, GetattrRequest, GetxattrRequest, LinkRequest, ListxattrRequest, LookupRequest, LseekRequest,
  MkdirRequest, MknodRequest, NodeId, OpenRequest, TmpfileRequest, OpendirRequest, ReadRequest, ReaddirRequest,
  ReaddirplusRequest, ReadlinkRequest, ReleaseRequest, ReleasedirRequest, RemovexattrRequest, RenameRequest,
  RmdirRequest, SetattrRequest, SetxattrRequest, StatfsRequest, SymlinkRequest, Timespec, UnlinkRequest,
  WriteRequest,
} from '../abi/types.js';
import { Errno } from '../fs/errors.js';
import type {
  AttrOut, CreateReply, DirentPlusSink, DirentSink, EntryOut, Filesystem, InitInfo, OpenReply, RequestContext,
  StatfsOut,
} from '../fs/filesystem.js';
import type { CreateContext, PathAttr, PathDirent, PathFilesystem, PathOpenResult, PathResult, PathTime } from './filesystem.js';
import { DirentWriter } from '../session/replies.js';
import { Held, PathNode, TreeLock, childPath, pathOf } from './nodes.js';

const E = osConstants.errno;
const { O_TRUNC } = fsConstants;
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const DT_DIR = 4;
const DT_UNKNOWN = 0;
/** d_ino for an entry whose inode number nobody knows yet (libfuse's FUSE_UNKNOWN_INO); 0 would hide it from some readers. */
const UNKNOWN_INO = 0xffffffff;
const ENOENT = Errno.of(E.ENOENT);
/**
 * Bytes of encoded listings kept between directory handles (see
 * `EncodedListing`); the least recently used go first, and a listing larger
 * than this is not kept.
 */
const LISTING_CACHE_BYTES = 8 << 20;
const ENOSYS = Errno.of(E.ENOSYS);
/**
 * A new name that is not valid UTF-8: the filesystem gets names as strings,
 * where such bytes would turn into U+FFFD and two different names into one.
 */
const EILSEQ = Errno.of(E.EILSEQ);

/** How the path layer answers the kernel. */
export interface PathOptions {
  /** Seconds the kernel caches a name (default 1, as libfuse). A `PathAttr` may override it per reply. */
  entryTimeout?: number;
  /** Seconds the kernel caches attributes (default 1, as libfuse). A `PathAttr` may override it per reply. */
  attrTimeout?: number;
  /** Seconds the kernel caches "no such file" (default 0: not cached). */
  negativeTimeout?: number;
  /**
   * A file unlinked (or renamed over) while open: `keep` (default) keeps its
   * node without a name, and its handles' operations get a null path; `hide`
   * renames it to `.fuse_hidden…` and removes that at the last release, as
   * libfuse does. See filesystem.ts.
   */
  unlinkedOpen?: 'keep' | 'hide';
}

/**
 * A cookie (READDIR offset) is `generation * COOKIE_SPAN + position + 1`:
 * the listing a handle took at its n-th start (offset 0: opendir, rewinddir,
 * or a seekdir to the start, which the kernel cannot tell apart) is its
 * generation n mod COOKIE_GENERATIONS, so that a seekdir to an offset told
 * before a rewind resumes in the listing it came from, while it is kept
 * (EARLIER_LISTINGS per handle). Cookies stay below 2^31: 32-bit callers
 * get them whole.
 */
const COOKIE_SPAN = 1 << 24;
const COOKIE_GENERATIONS = 128;
const EARLIER_LISTINGS = 4;

/** The cookie of `position` in listing generation `generation` (see COOKIE_SPAN). */
function cookieOf(generation: number, position: number): number {
  return generation * COOKIE_SPAN + position + 1;
}

/** The position a READDIR at `offset` resumes at in a listing of `count` positions (a cookie of a listing no longer kept: the same position in this one). */
function positionOf(offset: bigint, count: number): number {
  const o = Number(offset);
  return count + 1 >= COOKIE_SPAN ? o : o % COOKIE_SPAN;
}

interface DirHandle {
  node: PathNode;
  /** The filesystem's own handle from `opendir`. */
  fsFh: number;
  /**
   * The listing taken at offset 0, as the filesystem gave it (copied, so
   * later changes to its array do not move offsets); `.` and `..` are
   * positions 0 and 1 before it, and a cookie is a position + 1 in this
   * listing's generation (see COOKIE_SPAN).
   */
  entries: (string | PathDirent)[] | undefined;
  /** The listing's generation: how many times the handle started over, mod COOKIE_GENERATIONS; 0 for a listing too long for generations. */
  generation: number;
  /** The handle's listings before the last starts over, newest last (views of the same shape, without `earlier`). */
  earlier?: DirHandle[];
  /** The directory's change count when the listing was taken. */
  changesAtListing: number;
  /**
   * The listing as READDIR records (`fuse_dirent`), encoded at its first
   * READDIR: each later READDIR copies a run of them into the reply, as
   * libfuse does, instead of encoding every entry again.
   */
  records: Buffer | undefined;
  /** Byte offset of position i's record in `records` (a skipped position has none: the next one starts there too); the last element is the end. */
  starts: Uint32Array | undefined;
}

/**
 * A directory's last listing, kept encoded after its handle is gone: when the
 * next listing of the directory has the same names and nothing that went into
 * the records changed (the known children, whose node ids serve as d_ino,
 * and the dot entries' inode numbers), its handle reuses the records instead
 * of encoding them again. Only listings of plain names are kept: entries with
 * attributes could change behind an unchanged object.
 */
interface EncodedListing {
  /** The names, as the filesystem gave them (never changed: handles share it). */
  entries: string[];
  records: Buffer;
  starts: Uint32Array;
  /** The directory's `childrenVersion` when encoded. */
  childrenVersion: number;
  /** d_ino of `.` and of `..` when encoded. */
  dotIno: number;
  dotDotIno: number;
  /** The generation its cookies carry. */
  generation: number;
  /** What it holds, for LISTING_CACHE_BYTES. */
  bytes: number;
}

function isPromise<T>(v: unknown): v is Promise<T> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

function num(v: number | bigint | undefined, dflt = 0): number {
  return v === undefined ? dflt : typeof v === 'bigint' ? Number(v) : v;
}

function nowSpec(): Timespec {
  const ms = Date.now();
  return { sec: Math.floor(ms / 1000), nsec: (ms % 1000) * 1e6 };
}

/** Writes a time into `attr` at `key` ('atime' | 'mtime' | 'ctime'). */
function setTime(attr: Attr, key: 'atime' | 'mtime' | 'ctime', ns: bigint | undefined, ms: number | undefined, t: PathTime | undefined): void {
  let sec = 0;
  let nsec = 0;
  if (ns !== undefined) {
    sec = Number(ns / 1_000_000_000n);
    nsec = Number(ns % 1_000_000_000n);
    if (nsec < 0) {
      sec -= 1;
      nsec += 1e9;
    }
  } else {
    const m = ms ?? (t === undefined ? undefined : typeof t === 'number' ? t : t instanceof Date ? t.getTime() : undefined);
    if (m !== undefined) {
      sec = Math.floor(m / 1000);
      nsec = Math.min(999_999_999, Math.max(0, Math.round((m - sec * 1000) * 1e6)));
    } else if (t !== undefined && !(t instanceof Date) && typeof t !== 'number') {
      sec = t.sec;
      nsec = t.nsec;
    }
  }
  if (key === 'atime') {
    attr.atimeSec = sec;
    attr.atimeNsec = nsec;
  } else if (key === 'mtime') {
    attr.mtimeSec = sec;
    attr.mtimeNsec = nsec;
  } else {
    attr.ctimeSec = sec;
    attr.ctimeNsec = nsec;
  }
}

type Ms = { atimeMs?: number; mtimeMs?: number; ctimeMs?: number };

const SERVER_UID = process.getuid?.() ?? 0;
const SERVER_GID = process.getgid?.() ?? 0;

/**
 * Attributes a path filesystem returned, checked before any use: a value that
 * is not an object, or a mode without a file type, would otherwise reach the
 * kernel as attributes it rejects (the caller sees EIO, and the log says
 * nothing) or fail deep inside the adapter. Thrown, it is answered EIO and
 * logged once with this sentence.
 */
function checkPathAttr(pa: unknown): PathAttr {
  if (typeof pa !== 'object' || pa === null) {
    throw new TypeError(`the filesystem returned ${pa === null ? 'null' : typeof pa} where attributes were expected: return an object with at least mode (S_IFREG | 0o644, say), or an Errno`);
  }
  const mode = (pa as PathAttr).mode;
  if ((typeof mode !== 'number' && typeof mode !== 'bigint') || (Number(mode) & S_IFMT) === 0) {
    throw new TypeError('the filesystem returned attributes whose mode has no file type: set mode to S_IFREG, S_IFDIR, S_IFLNK... | permissions');
  }
  return pa as PathAttr;
}

/**
 * The kernel's attributes from what the filesystem returned. st_ino is the
 * filesystem's or else the node id; missing fields default as `PathAttr`
 * says (owner: this process; nlink 1, or 2 for a directory; blksize 4096;
 * blocks from the size; times the epoch).
 */
export function toAttr(pa: PathAttr, nodeid: number): Attr {
  const ino = num(pa.ino);
  const mode = num(pa.mode);
  const size = num(pa.size);
  const attr: Attr = {
    ino: ino !== 0 ? ino : nodeid,
    size,
    blocks: pa.blocks === undefined ? Math.ceil(size / 512) : num(pa.blocks),
    atimeSec: 0, atimeNsec: 0, mtimeSec: 0, mtimeNsec: 0, ctimeSec: 0, ctimeNsec: 0,
    mode,
    nlink: num(pa.nlink, (mode & S_IFMT) === S_IFDIR ? 2 : 1),
    uid: pa.uid === undefined ? SERVER_UID : num(pa.uid),
    gid: pa.gid === undefined ? SERVER_GID : num(pa.gid),
    rdev: num(pa.rdev),
    blksize: num(pa.blksize, 4096),
  };
  const ms = pa as PathAttr & Ms;
  setTime(attr, 'atime', pa.atimeNs, ms.atimeMs, pa.atime);
  setTime(attr, 'mtime', pa.mtimeNs, ms.mtimeMs, pa.mtime);
  setTime(attr, 'ctime', pa.ctimeNs, ms.ctimeMs, pa.ctime);
  return attr;
}

/** A name readdir gave: the kernel refuses a whole listing (EIO) for one that is empty or holds '/' or NUL. */
function checkListedName(name: unknown): void {
  if (typeof name === 'string' && name !== '' && !name.includes('/') && !name.includes('\0')) return;
  throw new TypeError(`readdir gave ${typeof name === 'string' ? JSON.stringify(name) : `a ${typeof name}`} as a name: names are non-empty strings without '/' or NUL`);
}

function openReplyOf(r: PathOpenResult): OpenReply {
  if (r === undefined || r === null) return { fh: 0 };
  const fh = typeof r === 'number' ? r : (r as { fh?: unknown }).fh;
  // The handle comes back in every later request as a 64-bit number, which a JavaScript number holds exactly only up to 2^53.
  if (fh !== undefined && !(typeof fh === 'number' && Number.isSafeInteger(fh) && fh >= 0)) {
    throw new TypeError(`open and create must give a handle that is a whole number from 0 to 2^53-1, not ${String(fh)}`);
  }
  return typeof r === 'number' ? { fh: r } : r;
}

/** The request's context with the caller's umask (0 unless DONT_MASK is in force: the kernel applied it). */
function createContext(ctx: RequestContext, umask: number): CreateContext {
  return {
    get nodeid() { return ctx.nodeid; },
    get uid() { return ctx.uid; },
    get gid() { return ctx.gid; },
    get pid() { return ctx.pid; },
    get unique() { return ctx.unique; },
    get signal() { return ctx.signal; },
    umask,
  };
}

function removeOne(list: number[], v: number): void {
  const i = list.indexOf(v);
  if (i >= 0) list.splice(i, 1);
}

/** A result the adapter hands on unchanged (one function for every call, not a closure per request). */
function passResult<T>(v: T): T {
  return v;
}

/**
 * Serves a `PathFilesystem` as an inode-level `Filesystem`. Use `mountPaths()`
 * unless you mount the result yourself (`mount(mnt, new PathAdapter(fs))`).
 */
export class PathAdapter implements Filesystem {
  /** @internal Every node the kernel (or an open handle) still holds, by node id. */
  readonly nodes = new Map<number, PathNode>();
  /** @internal The root directory's node. */
  readonly root: PathNode;
  /** The filesystem's INIT capabilities. */
  readonly initFlags?: bigint;
  /** READDIRPLUS, only when the filesystem says its listings carry attributes. */
  readonly readdirplus?: (req: ReaddirplusRequest, ctx: RequestContext, out: DirentPlusSink) => PathResult<void>;
  /** Only when the filesystem has `open`: without it the kernel sends no OPEN at all (see `PathFilesystem.open`). */
  readonly open?: (req: OpenRequest, ctx: RequestContext) => PathResult<OpenReply>;
  private readonly lock = new TreeLock();
  /** Non-directory nodes by the filesystem's inode number, to find a hard link reached by another name. */
  private readonly byIno = new Map<number, PathNode>();
  private readonly dirs = new Map<number, DirHandle>();
  /** Directories' last listings, encoded, least recently used first (a Map keeps insertion order). */
  private readonly encodedListings = new Map<PathNode, EncodedListing>();
  private encodedListingBytes = 0;
  private nextId = 2;
  private nextDirHandle = 1;
  private hiddenCounter = 0;
  private readonly entryTimeout: number;
  private readonly attrTimeout: number;
  private readonly negativeTimeout: number;
  private readonly hide: boolean;
  /** DONT_MASK is in force: creating operations get the caller's umask. */
  private dontMask: boolean;
  /** The filesystem's open truncates on O_TRUNC itself (its `initFlags` ask for ATOMIC_O_TRUNC). */
  private readonly openTruncates: boolean;

  /** @param fs the path-level filesystem this adapter serves. */
  constructor(readonly fs: PathFilesystem, options: PathOptions = {}) {
    this.entryTimeout = options.entryTimeout ?? 1;
    this.attrTimeout = options.attrTimeout ?? 1;
    this.negativeTimeout = options.negativeTimeout ?? 0;
    this.hide = options.unlinkedOpen === 'hide';
    this.root = new PathNode(ROOT_ID, 0, S_IFDIR);
    this.nodes.set(ROOT_ID, this.root);
    if (fs.readdirPlus) this.readdirplus = (req, ctx, out) => this.listPlus(req, ctx, out);
    const open = fs.open;
    if (open) this.open = (req, ctx) => this.openFile(open, req, ctx);
    if (fs.initFlags !== undefined) this.initFlags = fs.initFlags;
    this.openTruncates = ((fs.initFlags ?? 0n) & InitFlag.ATOMIC_O_TRUNC) !== 0n;
    this.dontMask = false;
  }

  // ---- the table ----

  private node(nodeid: number): PathNode {
    const n = this.nodes.get(nodeid);
    if (!n) throw Errno.of(E.ESTALE);
    return n;
  }

  /** The node for `name` in `parent` as `pa` describes it, created or recognised; takes no reference. */
  private attach(parent: PathNode, name: string, pa: PathAttr): PathNode {
    checkPathAttr(pa);
    const ino = num(pa.ino);
    const type = num(pa.mode) & S_IFMT;
    let node = parent.children?.get(name);
    if (node && (node.type !== type || (ino !== 0 && node.ino !== 0 && node.ino !== ino))) {
      // Replaced behind the mount's back: the old node loses this name.
      this.removeName(node, parent, name);
      node = undefined;
    }
    if (node) {
      this.preferName(node, parent, name);
      return node;
    }
    const dev = num(pa.dev);
    if (ino !== 0 && type !== S_IFDIR && num(pa.nlink, 1) > 1) {
      const known = this.byIno.get(ino);
      if (known && known.type === type && known.dev === dev) node = known;
    }
    if (!node) {
      node = this.newNode(ino, type);
      node.dev = dev;
    }
    this.addName(node, parent, name);
    this.preferName(node, parent, name);
    return node;
  }

  /**
   * Puts the name just found first among a hard-linked node's names, the
   * one its requests' paths are built from: an older name may have been
   * removed behind the mount's back, and the file would then be unreachable
   * through every name it has left.
   */
  private preferName(node: PathNode, parent: PathNode, name: string): void {
    const names = node.names;
    if (names.length < 2 || (names[0]!.parent === parent && names[0]!.name === name)) return;
    const i = names.findIndex((n) => n.parent === parent && n.name === name);
    if (i > 0) names.unshift(names.splice(i, 1)[0]!);
  }

  /** A lookup found no `name` in `parent`: a node still known under it lost that name behind the mount's back. */
  private nameGone(parent: PathNode, name: string): void {
    const node = parent.children?.get(name);
    if (node) this.removeName(node, parent, name);
  }

  private newNode(ino: number, type: number): PathNode {
    const node = new PathNode(this.nextId++ as NodeId, ino, type);
    this.nodes.set(node.id, node);
    if (ino !== 0 && type !== S_IFDIR) this.byIno.set(ino, node);
    return node;
  }

  private addName(node: PathNode, parent: PathNode, name: string): void {
    parent.setChild(name, node);
    node.names.push({ parent, name });
  }

  private removeName(node: PathNode, parent: PathNode, name: string): void {
    const i = node.names.findIndex((n) => n.parent === parent && n.name === name);
    if (i >= 0) node.names.splice(i, 1);
    parent.deleteChild(name, node);
    this.maybeDrop(node);
    this.maybeDrop(parent);
  }

  private moveName(node: PathNode, parent: PathNode, name: string, newParent: PathNode, newName: string): void {
    const entry = node.names.find((n) => n.parent === parent && n.name === name);
    parent.deleteChild(name, node);
    if (entry) {
      entry.parent = newParent;
      entry.name = newName;
    } else {
      node.names.push({ parent: newParent, name: newName });
    }
    newParent.setChild(newName, node);
    this.maybeDrop(parent);
  }

  /** Forgets a node nothing refers to any more: no kernel reference, no open handle, no lock, no known child. */
  private maybeDrop(node: PathNode): void {
    if (node.isRoot || node.lookups > 0 || node.handles.length > 0 || node.readers > 0 || node.writer) return;
    if (node.children && node.children.size > 0) return;
    if (this.nodes.get(node.id) !== node) return;
    this.nodes.delete(node.id);
    this.forgetListing(node);
    if (node.ino !== 0 && this.byIno.get(node.ino) === node) this.byIno.delete(node.ino);
    const names = node.names.splice(0);
    for (const { parent, name } of names) {
      parent.deleteChild(name, node);
      this.maybeDrop(parent);
    }
  }

  /** An entry for `node`; `pa` was checked (checkPathAttr) where it was first read. */
  private entry(node: PathNode, pa: PathAttr): EntryOut {
    node.lookups++;
    return {
      nodeid: node.id,
      generation: 0,
      entryTimeout: pa.entryTimeout ?? this.entryTimeout,
      attrTimeout: pa.attrTimeout ?? this.attrTimeout,
      attr: toAttr(pa, node.id),
    };
  }

  private negative(): EntryOut {
    return { nodeid: 0 as NodeId, generation: 0, entryTimeout: this.negativeTimeout, attrTimeout: 0, attr: toAttr({ mode: 0 }, 0) };
  }

  /** Root attributes when the filesystem has no getattr. */
  private static readonly ROOT_ATTR: PathAttr = { mode: S_IFDIR | 0o755, nlink: 2 };

  // ---- running a call under the tree lock ----

  /**
   * Runs `call` with shared locks on `nodes` (so their paths hold until it
   * settles), then `then` on its value before the locks go. While no
   * exclusive lock is held or waiting, a synchronous call takes no lock at all
   * and an asynchronous one takes it as soon as it returns (nothing can run in
   * between).
   */
  private shared<T, U>(nodes: PathNode[], call: () => PathResult<T>, then: (v: T) => U | Errno | Promise<U | Errno>): U | Errno | Promise<U | Errno> {
    if (this.lock.quiet) {
      const r = call();
      if (!isPromise<T | Errno>(r)) return r instanceof Errno ? r : then(r);
      return this.settle(r, this.lock.holdShared(nodes), then);
    }
    const h = this.lock.acquire(nodes);
    if (h instanceof Held) return this.callHeld(h, call, then);
    return h.then((held) => this.callHeld(held, call, then));
  }

  /** `call` with the path of node `nodeid`, under a shared hold of that node; its result handed on unchanged. */
  private atPath<T>(nodeid: number, call: (path: string | null) => PathResult<T>): PathResult<T> {
    const node = this.node(nodeid);
    return this.shared([node], () => call(pathOf(node)), passResult);
  }

  private callHeld<T, U>(held: Held, call: () => PathResult<T>, then: (v: T) => U | Errno | Promise<U | Errno>): U | Errno | Promise<U | Errno> {
    let r: PathResult<T>;
    try {
      r = call();
    } catch (err) {
      held.release();
      throw err;
    }
    return this.settle(r, held, then);
  }

  private async settle<T, U>(r: PathResult<T>, held: Held, then: (v: T) => U | Errno | Promise<U | Errno>): Promise<U | Errno> {
    try {
      const v = await r;
      return v instanceof Errno ? v : await then(v);
    } finally {
      held.release();
    }
  }

  // ---- lifecycle ----

  init(info: InitInfo): void | Promise<void> {
    this.dontMask = (info.enabled & InitFlag.DONT_MASK) !== 0n;
    return this.fs.init?.(info);
  }

  destroy(): void | Promise<void> {
    return this.fs.destroy?.();
  }

  forget(nodeid: NodeId, nlookup: number): void {
    const node = this.nodes.get(nodeid);
    if (!node) return;
    node.lookups = Math.max(0, node.lookups - nlookup);
    this.maybeDrop(node);
  }

  // ---- names ----

  lookup(req: LookupRequest, ctx: RequestContext): PathResult<EntryOut> {
    if (!isUtf8(req.nameBytes)) return ENOENT;
    const parent = this.node(ctx.nodeid);
    const name = req.name;
    const getattr = this.fs.getattr;
    if (!getattr) return ENOENT;
    const r = this.shared(
      [parent],
      () => {
        const pp = pathOf(parent);
        return pp === null ? ENOENT : getattr.call(this.fs, childPath(pp, name), undefined, ctx);
      },
      (pa) => this.entry(this.attach(parent, name, pa), pa),
    );
    // A missing name is routine; with a negative timeout the kernel caches it.
    const missing = (v: EntryOut | Errno): EntryOut | Errno => {
      if (!(v instanceof Errno) || v.errno !== E.ENOENT) return v;
      this.nameGone(parent, name);
      return this.negativeTimeout > 0 ? this.negative() : v;
    };
    return isPromise<EntryOut | Errno>(r) ? r.then(missing) : missing(r);
  }

  /** Attributes for a new name: those the operation returned, or a getattr. */
  private entryAfter(parent: PathNode, name: string, path: string, r: PathAttr | void, ctx: RequestContext, node?: PathNode): PathResult<EntryOut> {
    const make = (pa: PathAttr): EntryOut => {
      parent.changes++;
      if (node) {
        checkPathAttr(pa);
        if (!node.names.some((n) => n.parent === parent && n.name === name)) this.addName(node, parent, name);
        return this.entry(node, pa);
      }
      return this.entry(this.attach(parent, name, pa), pa);
    };
    if (r) return make(r);
    if (!this.fs.getattr) return Errno.of(E.EIO);
    const got = this.fs.getattr(path, undefined, ctx);
    if (!isPromise<PathAttr | Errno>(got)) return got instanceof Errno ? got : make(got);
    return got.then((pa) => (pa instanceof Errno ? pa : make(pa)));
  }

  private create1<R>(ctx: RequestContext, name: string, op: ((path: string) => PathResult<R>) | undefined, after: (path: string, r: R) => PathResult<EntryOut>): PathResult<EntryOut> {
    if (!op) return ENOSYS;
    const parent = this.node(ctx.nodeid);
    let path = '';
    return this.shared(
      [parent],
      () => {
        const pp = pathOf(parent);
        if (pp === null) return ENOENT;
        path = childPath(pp, name);
        return op(path);
      },
      (r) => after(path, r),
    );
  }

  mknod(req: MknodRequest, ctx: RequestContext): PathResult<EntryOut> {
    if (!isUtf8(req.nameBytes)) return EILSEQ;
    const parent = this.node(ctx.nodeid);
    const op = this.fs.mknod;
    const cctx = createContext(ctx, this.dontMask ? req.umask : 0);
    return this.create1(ctx, req.name, op && ((p) => op.call(this.fs, p, req.mode, req.rdev, cctx)), (p, r) => this.entryAfter(parent, req.name, p, r, ctx));
  }

  mkdir(req: MkdirRequest, ctx: RequestContext): PathResult<EntryOut> {
    if (!isUtf8(req.nameBytes)) return EILSEQ;
    const parent = this.node(ctx.nodeid);
    const op = this.fs.mkdir;
    const cctx = createContext(ctx, this.dontMask ? req.umask : 0);
    return this.create1(ctx, req.name, op && ((p) => op.call(this.fs, p, req.mode, cctx)), (p, r) => this.entryAfter(parent, req.name, p, r, ctx));
  }

  symlink(req: SymlinkRequest, ctx: RequestContext): PathResult<EntryOut> {
    if (!isUtf8(req.nameBytes) || !isUtf8(req.targetBytes)) return EILSEQ;
    const parent = this.node(ctx.nodeid);
    const op = this.fs.symlink;
    return this.create1(ctx, req.name, op && ((p) => op.call(this.fs, req.target, p, ctx)), (p, r) => this.entryAfter(parent, req.name, p, r, ctx));
  }

  link(req: LinkRequest, ctx: RequestContext): PathResult<EntryOut> {
    const op = this.fs.link;
    if (!op) return ENOSYS;
    if (!isUtf8(req.nameBytes)) return EILSEQ;
    const target = this.node(req.oldnodeid);
    const parent = this.node(ctx.nodeid);
    let path = '';
    return this.shared(
      [parent, target],
      () => {
        const pp = pathOf(parent);
        const existing = pathOf(target);
        // A file without a name (O_TMPFILE, or unlinked while open) is named through an open handle.
        const fh = existing === null ? target.handles[0] : undefined;
        if (pp === null || (existing === null && fh === undefined)) return ENOENT;
        path = childPath(pp, req.name);
        return op.call(this.fs, existing, path, fh, ctx);
      },
      (r) => this.entryAfter(parent, req.name, path, r, ctx, target),
    );
  }

  readlink(_req: ReadlinkRequest, ctx: RequestContext): PathResult<string | Buffer> {
    const op = this.fs.readlink;
    if (!op) return ENOSYS;
    const node = this.node(ctx.nodeid);
    return this.shared([node], () => {
      const p = pathOf(node);
      return p === null ? ENOENT : op.call(this.fs, p, ctx);
    }, passResult);
  }

  unlink(req: UnlinkRequest, ctx: RequestContext): Promise<void | Errno> {
    if (!isUtf8(req.nameBytes)) return Promise.resolve(ENOENT);
    return this.remove(ctx, req.name, false);
  }

  rmdir(req: RmdirRequest, ctx: RequestContext): Promise<void | Errno> {
    if (!isUtf8(req.nameBytes)) return Promise.resolve(ENOENT);
    return this.remove(ctx, req.name, true);
  }

  private async remove(ctx: RequestContext, name: string, dir: boolean): Promise<void | Errno> {
    const op = dir ? this.fs.rmdir : this.fs.unlink;
    if (!op) return ENOSYS;
    const parent = this.node(ctx.nodeid);
    const known = parent.children?.get(name);
    const held = await this.lock.acquire([parent], known ? [known] : [], ctx);
    try {
      const pp = pathOf(parent);
      if (pp === null) return ENOENT;
      const victim = parent.children?.get(name);
      if (!dir && victim && this.hide && victim.handles.length > 0 && this.fs.rename) {
        const r = await this.hideNode(victim, parent, name, pp, ctx);
        if (r instanceof Errno) return r;
      } else {
        const r = await op.call(this.fs, childPath(pp, name), ctx);
        if (r instanceof Errno) return r;
        if (victim) this.removeName(victim, parent, name);
      }
      parent.changes++;
    } finally {
      held.release();
    }
  }

  /** libfuse's hidden rename: `name` becomes `.fuse_hidden…` in the same directory until the node's last release. */
  private async hideNode(node: PathNode, parent: PathNode, name: string, parentPath: string, ctx: RequestContext): Promise<void | Errno> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const hidden = `.fuse_hidden${node.id.toString(16).padStart(8, '0')}${(++this.hiddenCounter).toString(16).padStart(8, '0')}`;
      if (parent.children?.has(hidden)) continue;
      const hiddenPath = childPath(parentPath, hidden);
      if (this.fs.getattr && !((await this.fs.getattr(hiddenPath, undefined, ctx)) instanceof Errno)) continue;
      const r = await this.fs.rename!(childPath(parentPath, name), hiddenPath, 0, ctx);
      if (r instanceof Errno) return r;
      this.moveName(node, parent, name, parent, hidden);
      node.hidden = true;
      return;
    }
    return Errno.of(E.EBUSY);
  }

  async rename(req: RenameRequest, ctx: RequestContext): Promise<void | Errno> {
    const op = this.fs.rename;
    if (!op) return ENOSYS;
    if (!isUtf8(req.nameBytes)) return ENOENT;
    if (!isUtf8(req.newNameBytes)) return EILSEQ;
    const parent = this.node(ctx.nodeid);
    const newParent = this.node(req.newdir);
    const exclusive: PathNode[] = [];
    const src0 = parent.children?.get(req.name);
    const dst0 = newParent.children?.get(req.newName);
    if (src0) exclusive.push(src0);
    if (dst0 && dst0 !== src0) exclusive.push(dst0);
    const held = await this.lock.acquire([parent, newParent], exclusive, ctx);
    try {
      const pp = pathOf(parent);
      const np = pathOf(newParent);
      if (pp === null || np === null) return ENOENT;
      const src = parent.children?.get(req.name);
      let dst = newParent.children?.get(req.newName);
      const exchange = (req.flags & RenameFlag.EXCHANGE) !== 0;
      if (!exchange && dst && dst !== src && this.hide && dst.handles.length > 0) {
        const r = await this.hideNode(dst, newParent, req.newName, np, ctx);
        if (r instanceof Errno) return r;
        dst = undefined;
      }
      const r = await op.call(this.fs, childPath(pp, req.name), childPath(np, req.newName), req.flags, ctx);
      if (r instanceof Errno) return r;
      if (exchange) {
        if (src) this.moveName(src, parent, req.name, newParent, req.newName);
        else newParent.deleteChild(req.newName, dst);
        if (dst) this.moveName(dst, newParent, req.newName, parent, req.name);
      } else if (src !== dst) {
        if (dst) this.removeName(dst, newParent, req.newName);
        if (src) this.moveName(src, parent, req.name, newParent, req.newName);
      }
      parent.changes++;
      newParent.changes++;
    } finally {
      held.release();
    }
  }

  // ---- attributes ----

  getattr(req: GetattrRequest, ctx: RequestContext): PathResult<AttrOut> {
    const node = this.node(ctx.nodeid);
    const op = this.fs.getattr;
    if (!op) {
      if (node.isRoot) return { attrTimeout: this.attrTimeout, attr: toAttr(PathAdapter.ROOT_ATTR, ROOT_ID) };
      return ENOSYS;
    }
    const fh = req.getattrFlags & GETATTR_FH ? (req.fh as number) : undefined;
    return this.shared([node], () => {
      const p = pathOf(node);
      return op.call(this.fs, p, fh ?? (p === null ? node.handles[0] : undefined), ctx);
    }, (pa) => ({ attrTimeout: pa.attrTimeout ?? this.attrTimeout, attr: toAttr(checkPathAttr(pa), node.id) }));
  }

  setattr(req: SetattrRequest, ctx: RequestContext): PathResult<AttrOut> {
    const node = this.node(ctx.nodeid);
    const v = req.valid;
    const fh = v & Fattr.FH ? (req.fh as number) : undefined;
    return this.shared([node], () => this.applySetattr(node, req, fh, ctx), (pa) => ({ attrTimeout: pa.attrTimeout ?? this.attrTimeout, attr: toAttr(checkPathAttr(pa), node.id) }));
  }

  /** chmod, chown, truncate, utimens in libfuse's order, then getattr for the reply. */
  private async applySetattr(node: PathNode, req: SetattrRequest, fh: number | undefined, ctx: RequestContext): Promise<PathAttr | Errno> {
    const fs = this.fs;
    const v = req.valid;
    const p = pathOf(node);
    const fhOrAny = fh ?? (p === null ? node.handles[0] : undefined);
    const step = async (present: boolean, op: unknown, call: () => PathResult<void>): Promise<Errno | undefined> => {
      if (!present) return undefined;
      if (!op) return ENOSYS;
      const r = await call();
      return r instanceof Errno ? r : undefined;
    };
    let e = await step((v & Fattr.MODE) !== 0, fs.chmod, () => fs.chmod!(p, req.mode, fhOrAny, ctx));
    if (e) return e;
    e = await step((v & (Fattr.UID | Fattr.GID)) !== 0, fs.chown, () => fs.chown!(p, v & Fattr.UID ? req.uid : -1, v & Fattr.GID ? req.gid : -1, fhOrAny, ctx));
    if (e) return e;
    e = await step((v & Fattr.SIZE) !== 0, fs.truncate, () => fs.truncate!(p, req.size, fhOrAny, ctx));
    if (e) return e;
    const times = v & (Fattr.ATIME | Fattr.MTIME | Fattr.ATIME_NOW | Fattr.MTIME_NOW);
    if (times) {
      const now = nowSpec();
      const atime = v & Fattr.ATIME_NOW ? now : v & Fattr.ATIME ? req.atime : undefined;
      const mtime = v & Fattr.MTIME_NOW ? now : v & Fattr.MTIME ? req.mtime : undefined;
      e = await step(true, fs.utimens, () => fs.utimens!(p, atime, mtime, fhOrAny, ctx));
      if (e) return e;
    }
    if (!fs.getattr) return ENOSYS;
    return fs.getattr(p, fhOrAny, ctx);
  }

  // ---- open files ----

  private openFile(op: NonNullable<PathFilesystem['open']>, req: OpenRequest, ctx: RequestContext): PathResult<OpenReply> {
    const node = this.node(ctx.nodeid);
    let path: string | null = null;
    return this.shared([node], () => {
      path = pathOf(node);
      return path === null ? ENOENT : op.call(this.fs, path, req.flags, ctx);
    }, (r) => {
      const reply = openReplyOf(r);
      const fh = reply.fh as number;
      if (!(req.flags & O_TRUNC) || this.openTruncates) {
        node.handles.push(fh);
        return reply;
      }
      if (!this.fs.truncate) {
        // Nothing can empty the file: opening it would keep its old content under a writer that expects none.
        void Promise.resolve(this.fs.release?.(path, fh, req.flags, ctx)).catch(() => undefined);
        throw new TypeError('an open with O_TRUNC needs `truncate` (or an `open` that truncates itself, with InitFlag.ATOMIC_O_TRUNC in `initFlags`): without either the file would keep its old content');
      }
      return this.truncateOpened(node, path, fh, req.flags, reply, ctx);
    });
  }

  /**
   * O_TRUNC of an open: the kernel hands it to OPEN (ATOMIC_O_TRUNC), but a
   * path filesystem gets it as libfuse 2 gave it, a truncate to 0 right after
   * the open, unless its `initFlags` ask for ATOMIC_O_TRUNC (its open then
   * truncates). Otherwise a filesystem that never looks at O_TRUNC would
   * keep the old tail of a file written over. If the truncate fails, the
   * handle is released and the open fails with its error.
   */
  private truncateOpened(node: PathNode, path: string | null, fh: number, flags: number, reply: OpenReply, ctx: RequestContext): PathResult<OpenReply> {
    const giveBack = () => void Promise.resolve(this.fs.release?.(path, fh, flags, ctx)).catch(() => undefined);
    const finish = (v: void | Errno): OpenReply | Errno => {
      if (v instanceof Errno) {
        giveBack();
        // ENOSYS in answer to OPEN would tell the kernel to stop sending OPEN at all.
        return v.errno === E.ENOSYS ? Errno.of(E.EOPNOTSUPP) : v;
      }
      node.handles.push(fh);
      return reply;
    };
    let t: PathResult<void>;
    try {
      t = this.fs.truncate!(path, 0, fh, ctx);
    } catch (err) {
      giveBack();
      throw err;
    }
    if (!isPromise<void | Errno>(t)) return finish(t);
    return t.then(finish, (err: unknown) => {
      giveBack();
      throw err;
    });
  }

  create(req: CreateRequest, ctx: RequestContext): PathResult<CreateReply> {
    const op = this.fs.create;
    if (!op) return ENOSYS;
    if (!isUtf8(req.nameBytes)) return EILSEQ;
    const parent = this.node(ctx.nodeid);
    const name = req.name;
    const cctx = createContext(ctx, this.dontMask ? req.umask : 0);
    let path = '';
    return this.shared(
      [parent],
      () => {
        const pp = pathOf(parent);
        if (pp === null) return ENOENT;
        path = childPath(pp, name);
        return op.call(this.fs, path, req.mode, req.flags, cctx);
      },
      async (r) => {
        const open = openReplyOf(r);
        const fh = open.fh as number;
        const pa = await this.attrsOfNewFile(path, fh, req.flags, ctx);
        if (pa instanceof Errno) return pa;
        parent.changes++;
        const node = this.attach(parent, name, pa);
        node.handles.push(fh);
        return { entry: this.entry(node, pa), open };
      },
    );
  }

  /**
   * The attributes of a file `create` or `tmpfile` just opened. If they cannot
   * be had, the file is open in the filesystem but the kernel will never know:
   * it is released here and the error returned.
   */
  private async attrsOfNewFile(path: string | null, fh: number, flags: number, ctx: RequestContext): Promise<PathAttr | Errno> {
    let pa: PathAttr | Errno = Errno.of(E.EIO);
    try {
      if (this.fs.getattr) pa = await this.fs.getattr(path, fh, ctx);
    } finally {
      if (pa instanceof Errno) await this.fs.release?.(path, fh, flags, ctx);
    }
    return pa;
  }

  /** open(O_TMPFILE): a node without a name, kept by its open handle until LINK names it or the last release. */
  tmpfile(req: TmpfileRequest, ctx: RequestContext): PathResult<CreateReply> {
    const op = this.fs.tmpfile;
    if (!op) return Errno.of(E.EOPNOTSUPP);
    const dir = this.node(ctx.nodeid);
    const cctx = createContext(ctx, this.dontMask ? req.umask : 0);
    return this.shared(
      [dir],
      () => {
        const p = pathOf(dir);
        return p === null ? ENOENT : op.call(this.fs, p, req.mode, req.flags, cctx);
      },
      async (r) => {
        const open = openReplyOf(r);
        const fh = open.fh as number;
        const pa = await this.attrsOfNewFile(null, fh, req.flags, ctx);
        if (pa instanceof Errno) return pa;
        checkPathAttr(pa);
        const node = this.newNode(num(pa.ino), num(pa.mode) & S_IFMT);
        node.dev = num(pa.dev);
        node.handles.push(fh);
        return { entry: this.entry(node, pa), open };
      },
    );
  }

  read(req: ReadRequest, ctx: RequestContext, dest: Buffer): PathResult<number | Uint8Array> {
    const op = this.fs.read;
    if (!op) return ENOSYS;
    return this.atPath(ctx.nodeid, (p) => op.call(this.fs, p, req.fh as number, dest, req.offset, ctx));
  }

  write(req: WriteRequest, ctx: RequestContext): PathResult<number> {
    const op = this.fs.write;
    if (!op) return ENOSYS;
    return this.atPath(ctx.nodeid, (p) => op.call(this.fs, p, req.fh as number, req.data, req.offset, ctx));
  }

  flush(req: FlushRequest, ctx: RequestContext): PathResult<void> {
    const op = this.fs.flush;
    if (!op) return ENOSYS;
    return this.atPath(ctx.nodeid, (p) => op.call(this.fs, p, req.fh as number, ctx));
  }

  fsync(req: FsyncRequest, ctx: RequestContext): PathResult<void> {
    const op = this.fs.fsync;
    if (!op) return ENOSYS;
    return this.atPath(ctx.nodeid, (p) => op.call(this.fs, p, req.fh as number, (req.fsyncFlags & FSYNC_FDATASYNC) !== 0, ctx));
  }

  release(req: ReleaseRequest, ctx: RequestContext): PathResult<void> {
    const node = this.nodes.get(ctx.nodeid);
    const fh = req.fh as number;
    if (!node) return this.fs.release?.(null, fh, req.flags, ctx);
    removeOne(node.handles, fh);
    const op = this.fs.release;
    return this.shared(
      [node],
      () => (op ? op.call(this.fs, pathOf(node), fh, req.flags, ctx) : undefined),
      () => (node.hidden && node.handles.length === 0 ? this.removeHidden(node, ctx) : undefined),
    );
  }

  /** The last release of a hidden node: its hidden name goes. */
  private async removeHidden(node: PathNode, ctx: RequestContext): Promise<void> {
    node.hidden = false;
    for (const { parent, name } of [...node.names]) {
      const pp = pathOf(parent);
      if (pp !== null && name.startsWith('.fuse_hidden') && this.fs.unlink) {
        const r = await this.fs.unlink(childPath(pp, name), ctx);
        if (!(r instanceof Errno)) {
          parent.changes++;
          this.removeName(node, parent, name);
        }
      }
    }
    this.maybeDrop(node);
  }

  fallocate(req: FallocateRequest, ctx: RequestContext): PathResult<void> {
    const op = this.fs.fallocate;
    if (!op) return ENOSYS;
    return this.atPath(ctx.nodeid, (p) => op.call(this.fs, p, req.fh as number, req.mode, req.offset, req.length, ctx));
  }

  lseek(req: LseekRequest, ctx: RequestContext): PathResult<number> {
    const op = this.fs.lseek;
    if (!op) return ENOSYS;
    return this.atPath(ctx.nodeid, (p) => op.call(this.fs, p, req.fh as number, req.offset, req.whence, ctx));
  }

  copyFileRange(req: CopyFileRangeRequest, ctx: RequestContext): PathResult<number> {
    const op = this.fs.copyFileRange;
    if (!op) return ENOSYS;
    const a = this.node(ctx.nodeid);
    const b = this.node(req.nodeidOut);
    return this.shared([a, b], () => op.call(this.fs, pathOf(a), req.fhIn as number, req.offIn, pathOf(b), req.fhOut as number, req.offOut, req.len, ctx), passResult);
  }

  // ---- directories ----

  opendir(req: OpendirRequest, ctx: RequestContext): PathResult<OpenReply> {
    const node = this.node(ctx.nodeid);
    const op = this.fs.opendir;
    return this.shared([node], () => {
      const p = pathOf(node);
      if (p === null) return ENOENT;
      return op ? op.call(this.fs, p, req.flags, ctx) : undefined;
    }, (r) => {
      const fsFh = openReplyOf(r).fh as number;
      const fh = this.nextDirHandle++;
      this.dirs.set(fh, { node, fsFh, entries: undefined, generation: 0, changesAtListing: 0, records: undefined, starts: undefined });
      return { fh };
    });
  }

  releasedir(req: ReleasedirRequest, ctx: RequestContext): PathResult<void> {
    const dh = this.dirs.get(req.fh as number);
    this.dirs.delete(req.fh as number);
    const op = this.fs.releasedir;
    if (!dh || !op) return undefined;
    return this.shared([dh.node], () => op.call(this.fs, pathOf(dh.node), dh.fsFh, ctx), passResult);
  }

  fsyncdir(req: FsyncdirRequest, ctx: RequestContext): PathResult<void> {
    const op = this.fs.fsyncdir;
    if (!op) return ENOSYS;
    const fsFh = this.dirs.get(req.fh as number)?.fsFh ?? 0;
    return this.atPath(ctx.nodeid, (p) => op.call(this.fs, p, fsFh, (req.fsyncFlags & FSYNC_FDATASYNC) !== 0, ctx));
  }

  /** The handle's listing, taken afresh when a reader starts at offset 0 (opendir, rewinddir). */
  private listing(fh: number, offset: bigint, ctx: RequestContext): PathResult<DirHandle> {
    let dh = this.dirs.get(fh);
    if (!dh) {
      // READDIR without our OPENDIR (cannot happen while opendir is answered): list per request.
      dh = { node: this.node(ctx.nodeid), fsFh: 0, entries: undefined, generation: 0, changesAtListing: 0, records: undefined, starts: undefined };
    }
    if (dh.entries && offset !== 0n) {
      // A cookie of an earlier listing of this handle (told before a rewind) resumes in it.
      const generation = Math.floor(Number(offset) / COOKIE_SPAN);
      if (generation === dh.generation || dh.earlier === undefined) return dh;
      return dh.earlier.find((l) => l.generation === generation) ?? dh;
    }
    const op = this.fs.readdir;
    if (!op) return ENOSYS;
    const handle = dh;
    const node = dh.node;
    return this.shared([node], () => {
      const p = pathOf(node);
      return p === null ? ENOENT : op.call(this.fs, p, handle.fsFh, ctx);
    }, (list) => {
      if (handle.entries) {
        // Starting over: the listing so far stays reachable by its cookies.
        const { node: n, fsFh, entries, generation, changesAtListing, records, starts } = handle;
        handle.earlier = [...(handle.earlier ?? []), { node: n, fsFh, entries, generation, changesAtListing, records, starts }].slice(-EARLIER_LISTINGS);
        handle.generation = (generation + 1) % COOKIE_GENERATIONS;
      }
      handle.changesAtListing = node.changes;
      // (A listing kept encoded is far below COOKIE_SPAN positions: its generation is the handle's as counted.)
      const kept = this.encodedListings.get(node);
      if (kept && kept.generation === handle.generation && this.stillEncodes(kept, node, list)) {
        handle.entries = kept.entries;
        handle.records = kept.records;
        handle.starts = kept.starts;
        // Most recently used: to the end.
        this.encodedListings.delete(node);
        this.encodedListings.set(node, kept);
        return handle;
      }
      // Names stay as given (no object per entry): listings are large and taken often.
      if (!Array.isArray(list) && !(typeof list === 'object' && list !== null && Symbol.iterator in list)) {
        throw new TypeError(`readdir must give an array of names (strings) or PathDirent objects, not ${list === null ? 'null' : typeof list}`);
      }
      handle.entries = Array.isArray(list) ? list.slice() : Array.from(list);
      handle.records = undefined;
      handle.starts = undefined;
      if (handle.entries.length + 2 >= COOKIE_SPAN - 1) {
        // More positions than a generation holds: plain cookies (generation 0), and no earlier listing is reachable.
        handle.generation = 0;
        handle.earlier = undefined;
      }
      return handle;
    });
  }

  /** A listing's name at position `i` (0 and 1 are the dot entries). */
  private static nameAt(entries: (string | PathDirent)[], i: number): string {
    if (i < 2) return i === 0 ? '.' : '..';
    const e = entries[i - 2]!;
    return typeof e === 'string' ? e : e.name;
  }

  private dotIno(dh: DirHandle, i: number): number {
    return this.dotInoOf(dh.node, i);
  }

  private dotInoOf(dir: PathNode, i: number): number {
    const n = i === 0 ? dir : (dir.names[0]?.parent ?? this.root);
    return n.ino !== 0 ? n.ino : n.id;
  }

  /**
   * Encodes the handle's listing as READDIR records, at its first READDIR.
   * d_ino and d_type are what is known then: the filesystem's attributes, or
   * else the node the kernel already has by that name (none: UNKNOWN_INO,
   * DT_UNKNOWN); a name looked up while the handle is being read keeps the
   * values it was encoded with, as in libfuse.
   */
  private encodeListing(h: DirHandle): Buffer {
    const entries = h.entries!;
    const count = entries.length + 2;
    const starts = new Uint32Array(count + 1);
    let size = 0;
    let names = true;
    for (let i = 0; i < count; i++) {
      starts[i] = size;
      if (i >= 2 && typeof entries[i - 2] !== 'string') names = false;
      const name = PathAdapter.nameAt(entries, i);
      if (i >= 2) checkListedName(name);
      // We list the dot entries ourselves.
      if (i >= 2 && (name === '.' || name === '..')) continue;
      size += direntSize(nameLength(name));
    }
    starts[count] = size;
    const records = Buffer.allocUnsafe(size);
    const children = h.node.children;
    for (let i = 0; i < count; i++) {
      const at = starts[i]!;
      if (starts[i + 1] === at) continue;
      let ino: number;
      let type: number;
      let name: string;
      if (i < 2) {
        name = i === 0 ? '.' : '..';
        ino = this.dotIno(h, i);
        type = DT_DIR;
      } else {
        const e = entries[i - 2]!;
        const attr = typeof e === 'string' ? undefined : e.attr;
        name = typeof e === 'string' ? e : e.name;
        const known = children?.get(name);
        const fsIno = attr ? num(attr.ino) : 0;
        ino = fsIno !== 0 ? fsIno : known ? (known.ino !== 0 ? known.ino : known.id) : UNKNOWN_INO;
        type = attr ? (num(attr.mode) & S_IFMT) >> 12 : known ? known.type >> 12 : DT_UNKNOWN;
      }
      encodeDirent(records, at, ino, cookieOf(h.generation, i), type, name);
    }
    h.records = records;
    h.starts = starts;
    if (names) this.keepListing(h.node, entries as string[], records, starts, h.generation);
    return records;
  }

  /** Whether `kept` is what a listing of `dir` that returned `list` would encode to. */
  private stillEncodes(kept: EncodedListing, dir: PathNode, list: Iterable<string | PathDirent>): boolean {
    if (kept.childrenVersion !== dir.childrenVersion) return false;
    if (kept.dotIno !== this.dotInoOf(dir, 0) || kept.dotDotIno !== this.dotInoOf(dir, 1)) return false;
    if (!Array.isArray(list)) return false;
    const names = kept.entries;
    if (list.length !== names.length) return false;
    for (let i = 0; i < names.length; i++) if (list[i] !== names[i]) return false;
    return true;
  }

  private keepListing(dir: PathNode, entries: string[], records: Buffer, starts: Uint32Array, generation: number): void {
    this.forgetListing(dir);
    // The records, the offsets and the array of names (the strings themselves are the filesystem's).
    const bytes = records.length + starts.byteLength + entries.length * 8;
    if (bytes > LISTING_CACHE_BYTES) return;
    for (const [old, l] of this.encodedListings) {
      if (this.encodedListingBytes + bytes <= LISTING_CACHE_BYTES) break;
      this.forgetListing(old, l);
    }
    const dotIno = this.dotInoOf(dir, 0);
    const dotDotIno = this.dotInoOf(dir, 1);
    this.encodedListings.set(dir, { entries, records, starts, childrenVersion: dir.childrenVersion, dotIno, dotDotIno, generation, bytes });
    this.encodedListingBytes += bytes;
  }

  private forgetListing(dir: PathNode, kept = this.encodedListings.get(dir)): void {
    if (!kept) return;
    this.encodedListings.delete(dir);
    this.encodedListingBytes -= kept.bytes;
  }

  readdir(req: ReaddirRequest, ctx: RequestContext, out: DirentSink): PathResult<void> {
    const dh = this.listing(req.fh as number, req.offset, ctx);
    const emit = (h: DirHandle): void => {
      const records = h.records ?? this.encodeListing(h);
      const starts = h.starts!;
      const count = starts.length - 1;
      // The cookie of position i's record is i + 1 (in its generation): resuming at cookie c starts at position c.
      const o = positionOf(req.offset, count);
      const first = o >= 0 && o < count ? o : count;
      const from = starts[first]!;
      if (out instanceof DirentWriter) {
        // The most positions whose records fit, found by bisection: one copy.
        const limit = from + out.room;
        let lo = first;
        let hi = count;
        while (lo < hi) {
          const mid = (lo + hi + 1) >>> 1;
          if (starts[mid]! <= limit) lo = mid;
          else hi = mid - 1;
        }
        out.addRecords(records, from, starts[lo]!);
        return;
      }
      // Another sink (a filesystem wrapping this one): record by record.
      for (let i = first; i < count; i++) {
        const at = starts[i]!;
        if (starts[i + 1] === at) continue;
        const ino = records.readUInt32LE(at) + records.readUInt32LE(at + 4) * 0x1_0000_0000;
        const nameLen = records.readUInt32LE(at + 16);
        const type = records.readUInt32LE(at + 20);
        if (!out.add(records.toString('utf8', at + 24, at + 24 + nameLen), ino, type, BigInt(cookieOf(h.generation, i)))) return;
      }
    };
    if (dh instanceof Errno) return dh;
    if (isPromise<DirHandle | Errno>(dh)) return dh.then((h) => (h instanceof Errno ? h : emit(h)));
    return emit(dh);
  }

  private listPlus(req: ReaddirplusRequest, ctx: RequestContext, out: DirentPlusSink): PathResult<void> {
    const dh = this.listing(req.fh as number, req.offset, ctx);
    const emit = (h: DirHandle): void => {
      const entries = h.entries!;
      // Attributes from a listing older than a change made through the mount may be wrong: names only then.
      const fresh = h.changesAtListing === h.node.changes;
      const end = entries.length + 2;
      for (let i = positionOf(req.offset, end); i < end; i++) {
        const name = PathAdapter.nameAt(entries, i);
        if (i >= 2) checkListedName(name);
        if (i >= 2 && (name === '.' || name === '..')) continue;
        if (!out.fits(Buffer.byteLength(name))) return;
        const e = i < 2 ? undefined : entries[i - 2]!;
        const attr = e === undefined || typeof e === 'string' ? undefined : e.attr;
        let entry: EntryOut;
        if (i < 2) {
          entry = nameOnly(this.dotIno(h, i), S_IFDIR);
        } else if (attr && fresh) {
          entry = this.entry(this.attach(h.node, name, attr), attr);
        } else {
          const known = h.node.children?.get(name);
          const fsIno = attr ? num(attr.ino) : 0;
          entry = nameOnly(fsIno || (known ? known.ino || known.id : UNKNOWN_INO), attr ? num(attr.mode) : (known?.type ?? 0));
        }
        out.add(name, entry, BigInt(cookieOf(h.generation, i)));
      }
    };
    if (dh instanceof Errno) return dh;
    if (isPromise<DirHandle | Errno>(dh)) return dh.then((h) => (h instanceof Errno ? h : emit(h)));
    return emit(dh);
  }

  // ---- the rest ----

  statfs(_req: StatfsRequest, ctx: RequestContext): PathResult<StatfsOut> {
    const op = this.fs.statfs;
    if (!op) return { blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0, bsize: 512, namelen: 255, frsize: 0 };
    return this.atPath(ctx.nodeid, (p) => op.call(this.fs, p ?? '/', ctx));
  }

  access(req: AccessRequest, ctx: RequestContext): PathResult<void> {
    const op = this.fs.access;
    if (!op) return ENOSYS;
    const node = this.node(ctx.nodeid);
    return this.shared([node], () => {
      const p = pathOf(node);
      return p === null ? ENOENT : op.call(this.fs, p, req.mask, ctx);
    }, passResult);
  }

  setxattr(req: SetxattrRequest, ctx: RequestContext): PathResult<void> {
    const op = this.fs.setxattr;
    if (!op) return ENOSYS;
    return this.atPath(ctx.nodeid, (p) => op.call(this.fs, p, req.name, req.value, req.flags, ctx));
  }

  getxattr(req: GetxattrRequest, ctx: RequestContext): PathResult<Buffer> {
    const op = this.fs.getxattr;
    if (!op) return ENOSYS;
    return this.atPath(ctx.nodeid, (p) => op.call(this.fs, p, req.name, ctx));
  }

  listxattr(_req: ListxattrRequest, ctx: RequestContext): PathResult<(string | Buffer)[]> {
    const op = this.fs.listxattr;
    if (!op) return ENOSYS;
    return this.atPath(ctx.nodeid, (p) => op.call(this.fs, p, ctx));
  }

  removexattr(req: RemovexattrRequest, ctx: RequestContext): PathResult<void> {
    const op = this.fs.removexattr;
    if (!op) return ENOSYS;
    return this.atPath(ctx.nodeid, (p) => op.call(this.fs, p, req.name, ctx));
  }
}

/** A READDIRPLUS record without a node (id 0): the kernel lists the name and looks it up only if asked. */
function nameOnly(ino: number, mode: number): EntryOut {
  const attr = toAttr({ mode: mode & S_IFMT }, 0);
  attr.ino = ino;
  return { nodeid: 0 as NodeId, generation: 0, entryTimeout: 0, attrTimeout: 0, attr };
}
