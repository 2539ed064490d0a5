/**
 * # Writing a filesystem with fusekit
 *
 * A filesystem is an object with optional methods named after the FUSE
 * operations. fusekit reads requests from the kernel, calls the method, and
 * encodes what it returns (or the errno it throws) as the reply. A method that
 * is missing answers ENOSYS, which for some operations the kernel remembers and
 * replaces with a default (see each method). Methods may be synchronous or
 * return a promise; many requests are in flight at once, so a method that waits
 * never holds up the others.
 *
 * ```ts
 * import { mount, makeAttr, nodeId, ROOT_ID, S_IFDIR, S_IFREG, DT_REG, Errno } from 'fusekit';
 * const hello = Buffer.from('hello\n');
 * const HELLO = nodeId(2);
 * const fileAttr = makeAttr({ ino: HELLO, mode: S_IFREG | 0o444, size: hello.length });
 * const rootAttr = makeAttr({ ino: ROOT_ID, mode: S_IFDIR | 0o755 });
 * const m = await mount('/mnt/hello', {
 *   lookup: ({ name }, { nodeid }) => {
 *     if (nodeid !== ROOT_ID || name !== 'hello') return Errno.of('ENOENT');
 *     return { nodeid: HELLO, generation: 0, entryTimeout: 1, attrTimeout: 1, attr: fileAttr };
 *   },
 *   getattr: (_req, { nodeid }) => ({ attrTimeout: 1, attr: nodeid === ROOT_ID ? rootAttr : fileAttr }),
 *   read: ({ offset, size }) => hello.subarray(offset, offset + size),
 *   readdir: ({ offset }, _ctx, out) => {
 *     if (offset === 0n) out.add('hello', HELLO, DT_REG, 1n);
 *   },
 * });
 * await m.ended;
 * ```
 *
 * ## The kernel's model
 *
 * - **Inodes** are named by a *node id* the filesystem chooses (the root is
 *   always 1). Every reply that returns an entry (LOOKUP, MKNOD, MKDIR,
 *   SYMLINK, LINK, CREATE, and each READDIRPLUS entry except `.` and `..`)
 *   gives the kernel one more *lookup reference* to that node id. The kernel
 *   gives them back with FORGET: `forget(nodeid, nlookup)`. A node id must stay
 *   valid until its references reach zero, even after the file is unlinked.
 *   fusekit keeps the same count (see `Session.lookupCount`) and, if an entry
 *   reply cannot be delivered (the caller was interrupted), calls `forget` for
 *   it so your count stays right.
 * - **Dentries** (name → node id) are cached for `entryTimeout` seconds and
 *   **attributes** for `attrTimeout` seconds. 0 means ask every time; longer is
 *   faster but hides changes made behind the kernel's back. A LOOKUP reply with
 *   node id 0 and a positive `entryTimeout` caches a negative entry.
 * - **Open files** are named by a *file handle* (`fh`) the filesystem chooses
 *   in `open`/`opendir`/`create`. The kernel passes it back on READ, WRITE,
 *   FLUSH, FSYNC, RELEASE... Every successful open is paired with exactly one
 *   release, including opens whose reply the kernel then rejected.
 * - **Interrupts**: when the calling process gets a signal, `ctx.signal`
 *   aborts. Finish quickly: throw (an `AbortError` answers EINTR) or complete.
 * - **A request that is never answered** leaves its caller in an
 *   uninterruptible sleep that not even SIGKILL ends (reads served from the
 *   page cache aside). fusekit guards against it twice. Its own deadline
 *   (`requestDeadlineMs`, default 60 s) answers a request whose handler has
 *   not settled with ETIMEDOUT, aborts `ctx.signal`, logs it once, and drops
 *   the handler's late answer (giving back any entry or open it carried), so
 *   the caller is freed and the mount keeps serving; a blocking lock wait
 *   (SETLKW) is exempt. A request in flight longer than `slowRequestMs`
 *   (default 10 s) is logged once with its opcode and node. A handler that
 *   blocks the event loop outright stops the deadline too: for that, the
 *   kernel's own `kernelRequestTimeout` (off by default) aborts the whole
 *   connection once any request waits that long, and every caller then gets
 *   ENOTCONN until the mount is unmounted.
 * - **Parallelism**: requests arrive in kernel order but complete in any
 *   order. Two requests for the same inode may be in flight at once.
 *
 * ## Known deadlocks
 *
 * - Never perform synchronous I/O on your own mount from the thread that serves
 *   it: the kernel waits for your reply while you wait for the kernel. From
 *   the serving process, use only asynchronous calls on the mount, and not in
 *   numbers that fill libuv's pool (set UV_THREADPOOL_SIZE).
 * - A process that exits with files open on its own mount hangs in the kernel's
 *   FLUSH on close: unmount (or abort the connection) before exiting.
 * - Some notifications make the kernel wait for a lock that a request still
 *   unanswered holds (see `Notifier`): fusekit writes those from a pool
 *   thread and returns a promise, so never await one before answering the
 *   request it waits for.
 */
import type { Errno } from './errors.js';
import type { IoMode } from '../passthrough/arbiter.js';
import type {
  AccessRequest, Attr, AttrOut, BmapRequest, CopyFileRangeRequest, CreateRequest, EntryOut, FallocateRequest,
  FileHandle, FileLock, FlushRequest, FsyncRequest, FsyncdirRequest, GetattrRequest, GetlkRequest,
  GetxattrRequest, IoctlRequest, LinkRequest, ListxattrRequest, LookupRequest, LseekRequest, MkdirRequest,
  MknodRequest, NodeId, OpenRequest, OpendirRequest, PollRequest, ReadRequest, ReaddirRequest,
  ReaddirplusRequest, ReadlinkRequest, ReleaseRequest, ReleasedirRequest, RemovexattrRequest, RenameRequest,
  RmdirRequest, SetattrRequest, SetlkRequest, SetxattrRequest, StatfsOut, StatfsRequest, StatxOut,
  StatxRequest, SymlinkRequest, SyncfsRequest, TmpfileRequest, UnlinkRequest, WriteRequest,
} from '../abi/types.js';

export type { Attr, AttrOut, EntryOut, FileHandle, FileLock, IoMode, NodeId, StatfsOut, StatxOut };

/** Who asked, and for which node. */
export interface RequestContext {
  /** The node the request targets (the directory, for name operations). */
  nodeid: NodeId;
  /** Caller's fsuid/fsgid and thread group id; pid is 0 for requests no process made (writeback). */
  uid: number;
  /** Caller's fsgid. */
  gid: number;
  /** Caller's thread group id; 0 for requests no process made (writeback). */
  pid: number;
  /** The request id, for logs. */
  unique: bigint;
  /** Aborts when the kernel sends INTERRUPT for this request. */
  signal: AbortSignal;
}


/** What an open returns. Flags are FOPEN_* bits (`Fopen` in the abi layer). */
export interface OpenReply {
  /** The handle the kernel passes back in every request on this open file; any number the filesystem likes. */
  fh: FileHandle | number;
  /**
   * A backing file for kernel passthrough: a descriptor of a regular file
   * (O_PATH is enough; fusekit does not close it) or its path. With passthrough the kernel
   * reads, writes and maps that file itself and READ/WRITE never reach you.
   * Whether it is granted depends on the mount's passthrough policy and on the
   * inode's other opens (the kernel keeps one mode per inode); you are told
   * nothing and need do nothing either way: serve READ/WRITE as usual.
   *
   * With passthrough, writes never reach you, so the file's size and times
   * change behind your back: `lookup` and `getattr` must report them from the
   * backing file (stat it), not from a copy you keep, or a file written
   * through the mount looks empty once the kernel drops its cached attributes.
   */
  backing?:
    | {
        /** An open descriptor of the backing file. */
        fd: number;
      }
    | {
        /** The backing file's path. */
        path: string;
      };
  /** Overrides the policy for this open. Default: the policy decides (passthrough if a backing file is offered). */
  ioMode?: IoMode;
  /**
   * FOPEN_DIRECT_IO (no page cache for this open), KEEP_CACHE (keep cached pages
   * from earlier opens), NONSEEKABLE, CACHE_DIR (opendir: cache the listing),
   * NOFLUSH, PARALLEL_DIRECT_WRITES. Default 0.
   */
  openFlags?: number;
}

/** What CREATE and TMPFILE return: the new inode's entry (a lookup reference) and the open file. */
export interface CreateReply {
  /** The new inode, as LOOKUP would answer it. */
  entry: EntryOut;
  /** The open file, as OPEN would answer it. */
  open: OpenReply;
}

/**
 * Collects READDIR records into the reply. `add` returns false, adding nothing,
 * once the reply is full: stop there and the kernel asks again from that
 * entry's offset.
 */
export interface DirentSink {
  /**
   * Adds one record.
   * @param name the entry's name
   * @param ino inode number shown in d_ino
   * @param type DT_* value (`(mode & S_IFMT) >> 12`)
   * @param nextOffset the cookie that resumes *after* this entry (never 0)
   * @returns false, having added nothing, when the reply is full
   */
  add(name: string | Buffer, ino: number, type: number, nextOffset: bigint): boolean;
}

/**
 * Collects READDIRPLUS records: each carries a full entry, which gives the
 * kernel a lookup reference unless its nodeid is 0 or the name is `.`/`..`.
 * Check `fits` before doing the lookup, so no reference is taken for an entry
 * that would not fit.
 */
export interface DirentPlusSink {
  /** Whether a record with a name of `nameLength` bytes still fits in the reply. */
  fits(nameLength: number): boolean;
  /**
   * Adds a record and, with it, the lookup reference described above.
   * @param name the entry's name
   * @param entry the entry, as LOOKUP would answer it (nodeid 0: the name only)
   * @param nextOffset the cookie that resumes *after* this entry (never 0)
   * @returns false, having added nothing, when the reply is full
   */
  add(name: string | Buffer, entry: EntryOut, nextOffset: bigint): boolean;
}

/** Options of `Notifier.invalEntry`. */
export interface InvalEntryOptions {
  /**
   * Mark the name stale instead of dropping it (protocol 7.38,
   * HAS_EXPIRE_ONLY): its next use revalidates it with a LOOKUP, but a
   * process that has it as its working directory or holds it open keeps a
   * working dentry, and submounts on it stay. ENOSYS when not negotiated.
   */
  expireOnly?: boolean;
}

/** Options of `Notifier.retrieve`. */
export interface RetrieveOptions {
  /** Reject with ETIMEDOUT when the kernel has not answered within this many milliseconds (default 5000). */
  timeoutMs?: number;
}

/**
 * Messages a filesystem may send the kernel unasked: the way to keep the
 * kernel's caches right when the data changes behind it, to fill them ahead
 * of time, and to wake pollers. Results are 0 or a negative errno: ENOENT
 * means the kernel does not have that node or name cached (not an error for
 * an invalidation), ENOSYS that the kernel or the negotiated protocol does not
 * know the message, ENOTCONN/ENODEV that the connection is gone.
 *
 * ## Which may be sent when: the deadlock rules
 *
 * The kernel acts on a notification inside the server's write(2), and for
 * some it first takes a lock: a directory's lock (entry invalidations,
 * deletes) or page locks (page invalidations, stores). The kernel may hold
 * that lock while it waits for the answer to a request, for example a LOOKUP,
 * CREATE, UNLINK or RENAME in that directory, or a READ of that page; the
 * request may even still be queued, unread. Written from the thread that
 * serves the mount, such a notification would sleep until a request is
 * answered that only that thread can answer: a deadlock. fusekit therefore
 * writes these (`invalInode`, `invalEntry`, `delete`, `store`) from a pool
 * thread, one at a time in the order sent, and returns a promise that settles
 * once the kernel has taken the message. They may be sent from anywhere,
 * inside a handler or outside any request, with one rule:
 *
 * - **Do not await one before answering a request it may wait for.** A LOOKUP
 *   or CREATE handler in directory D that awaits `invalEntry(D, …)` before
 *   returning waits for itself (the kernel holds D's lock until the handler
 *   answers). Send it without awaiting, or await it after the reply (from a
 *   `queueMicrotask`/`setImmediate` after returning). The same holds for a
 *   READ handler awaiting `invalInode`/`store` on the pages it is reading, and
 *   for UNLINK, RMDIR, RENAME, SETATTR, SETXATTR and READDIR handlers on the
 *   child itself with `delete`.
 *
 * The others (`invalAttr`, `pollWakeup`, `prune`, `resend`, `incEpoch`,
 * `retrieve`'s request) take no lock a request holds and are written at once,
 * from any thread, at any time.
 */
export interface Notifier {
  /**
   * NOTIFY_INVAL_INODE without pages: the node's cached attributes (size,
   * times, mode, owner) expire, so the next stat asks with GETATTR; its
   * cached ACLs are dropped too. Written at once. ENOENT: the kernel does not
   * have the node.
   */
  invalAttr(nodeid: NodeId | number): number;
  /**
   * NOTIFY_INVAL_INODE: the node's attributes as `invalAttr`, and its cached
   * pages from `offset` for `length` bytes (length 0 or less: to the end of
   * the file) are dropped (dirty pages are written back first), so the next
   * read of that range sends READ. A negative `offset` drops attributes only.
   * Files open in passthrough have no pages here. Written off the serving
   * thread (see the deadlock rules).
   */
  invalInode(nodeid: NodeId | number, offset?: number, length?: number): Promise<number>;
  /**
   * NOTIFY_INVAL_ENTRY: the kernel forgets the name `name` in directory
   * `parent` (positive or negative), and the directory's attributes and
   * cached listing, so the next use of the name sends LOOKUP. With
   * `expireOnly` the name is only marked stale (see `InvalEntryOptions`).
   * The inode behind the name is not touched. Written off the serving thread
   * (the kernel takes `parent`'s lock).
   */
  invalEntry(parent: NodeId | number, name: string | Buffer, options?: InvalEntryOptions): Promise<number>;
  /**
   * NOTIFY_DELETE (7.18): as `invalEntry`, and when the name still leads to
   * node `child`, the kernel also treats `child` as deleted (link count 0,
   * gone from the dcache even when in use; a directory must then be empty
   * in the dcache, else ENOTEMPTY). ENOENT when the name does not lead to
   * `child`. Written off the serving thread (the kernel takes the
   * directory's lock and the child's).
   */
  delete(parent: NodeId | number, child: NodeId | number, name: string | Buffer): Promise<number>;
  /**
   * NOTIFY_STORE: puts `data` into the node's page cache at `offset`, as if a
   * READ had returned it, and grows the cached size when it ends past it. A
   * later read of those bytes is answered from the cache with no READ, as
   * long as the kernel keeps the pages (an open without FOPEN_KEEP_CACHE
   * drops them; so does memory pressure). Files open in passthrough do not
   * use these pages. Written off the serving thread (the kernel locks the
   * pages).
   */
  store(nodeid: NodeId | number, offset: number, data: Uint8Array): Promise<number>;
  /**
   * NOTIFY_RETRIEVE: the bytes the kernel holds in the node's page cache from
   * `offset`, at most `size` (and at most max_write), up to the first page it
   * does not have and never past the cached size: possibly empty. The kernel
   * answers with a NOTIFY_REPLY request, which the session matches to this
   * promise. Rejects with an errno error: ENOENT when the node is not cached,
   * ETIMEDOUT after `timeoutMs`, ENOTCONN when the connection ends. Never
   * await it in a handler the kernel must see answered first: the reply is
   * read by the same thread.
   */
  retrieve(nodeid: NodeId | number, offset: number, size: number, options?: RetrieveOptions): Promise<Buffer>;
  /**
   * NOTIFY_POLL: wakes whoever polls the file that a POLL request named with
   * `kh` (`PollRequest.kh`, given when `flags` has POLL_SCHEDULE_NOTIFY). The
   * kernel then asks POLL again for the ready events. ENOENT-free: an unknown
   * `kh` is ignored. Written at once.
   */
  pollWakeup(kh: bigint): number;
  /**
   * NOTIFY_PRUNE (7.45): asks the kernel to drop these nodes if nothing uses
   * them (no open file, no working directory, no child in the dcache); it
   * sends FORGET for those it drops. ENOSYS on older kernels. Written at once.
   */
  prune(nodeids: readonly number[]): number;
  /**
   * NOTIFY_RESEND (7.40, HAS_RESEND): the kernel queues again every request
   * it has handed to the server and not seen answered, with
   * `UNIQUE_RESEND` set in their unique; for a server that lost requests
   * (restarted without the kernel noticing). fusekit still holds the
   * originals, so a resent request is served a second time: use it only if
   * the filesystem knows it lost them. ENOSYS when not negotiated.
   */
  resend(): number;
  /**
   * NOTIFY_INC_EPOCH (7.44): every cached name the kernel looked up before
   * this moment is revalidated (LOOKUP) at its next use, however long its
   * entryTimeout: a cheap "everything may have changed" for names.
   * Attributes and pages are not touched. ENOSYS on older kernels. Written
   * at once.
   */
  incEpoch(): number;
}

/** What INIT settled, as `Filesystem.init` receives it. */
export interface InitInfo {
  /** Negotiated protocol minor (7.31 … 7.45). */
  minor: number;
  /** Capabilities the kernel offered and the ones now in force (FUSE_* INIT bits as a 64-bit set). */
  offered: bigint;
  /** Capabilities now in force (`InitFlag` bits). */
  enabled: bigint;
  /** Largest WRITE payload the kernel will send, in bytes. */
  maxWrite: number;
  /** Largest readahead the kernel will do, in bytes. */
  maxReadahead: number;
}

/**
 * What a handler returns: its result, or an `Errno` for a routine failure,
 * either at once or as a promise. A handler may also throw (see `Filesystem`).
 */
export type HandlerResult<T> = T | Errno | Promise<T | Errno>;

/** IOCTL's answer: the ioctl's return value and the bytes to copy back to the caller (at most `req.outSize`). */
export interface IoctlReply {
  /** What ioctl(2) returns to the caller. */
  result: number;
  /** Bytes copied back to the caller's argument. */
  data?: Buffer;
}

/**
 * The inode-level filesystem interface. Every method is optional. Throw a
 * `FuseError`, or any error with an errno `code` (as Node's fs errors have), to
 * fail a request, or return `Errno.of(n)` for failures that are routine and
 * frequent; anything else fails it with EIO and is logged once per cause.
 */
export interface Filesystem {
  /**
   * INIT capabilities this filesystem implements beyond what fusekit asks for
   * by default (`InitFlag` bits), each granted only if the kernel offers it.
   * For example HANDLE_KILLPRIV_V2: the kernel stops checking
   * security.capability on every write (a GETXATTR round trip each time) and
   * instead flags WRITE (WriteFlag.KILL_SUIDGID), SETATTR (Fattr.KILL_SUIDGID)
   * and OPEN/CREATE with O_TRUNC (OPEN_KILL_SUIDGID) when the filesystem must
   * clear set-user-ID and set-group-ID bits itself.
   */
  readonly initFlags?: bigint;
  /**
   * With `readdirplus`: do not negotiate READDIRPLUS_AUTO. The kernel then
   * sends READDIRPLUS for every reply of every listing (never READDIR), and
   * the filesystem decides, record by record, whether to give attributes.
   * Without it the kernel sends READDIRPLUS for a listing's first reply, and
   * for later ones only after a name of that directory was looked up;
   * READDIR otherwise.
   */
  readonly readdirplusAlways?: boolean;
  /**
   * Asked by `mount()` before it mounts, with the mountpoint's real path: a
   * sentence saying why this filesystem cannot be served there (`mount()`
   * then throws it as a `MountError` and mounts nothing), or undefined. A
   * filesystem that reads another directory uses it to refuse a mountpoint
   * inside that directory, where serving a request could wait on its own
   * mount for ever.
   */
  mountpointProblem?(mountpoint: string): string | undefined;
  /** After INIT is negotiated, before any other request. `notify` stays valid for the session's life. */
  init?(info: InitInfo, notify: Notifier): void | Promise<void>;
  /**
   * The session is ending (unmount or DESTROY). At the end of a session it is
   * waited for no longer than `requestDeadlineMs`: past that, the session ends
   * without it (one log line), so a destroy that never settles cannot keep
   * `unmount()` from finishing.
   */
  destroy?(): void | Promise<void>;
  /**
   * Called on the serving thread while it waits for the next request (the
   * gap in which the kernel wakes the client with our last reply). Do one
   * small piece of deferred work (closing a forgotten inode's descriptor, say)
   * and return true, or return false when nothing is left. Never blocks.
   *
   * `busy` is true when it is called between requests that keep coming back
   * to back, so that deferred work cannot pile up while the device never runs
   * dry: do only work that would otherwise grow without bound (work another
   * thread will do anyway can wait).
   */
  idle?(busy?: boolean): boolean;

  /** Resolve `name` in directory `ctx.nodeid`. Throw ENOENT, or return nodeid 0 with an entryTimeout for a cached negative entry. Adds a lookup reference. */
  lookup?(req: LookupRequest, ctx: RequestContext): HandlerResult<EntryOut>;
  /** The kernel dropped `nlookup` references to `nodeid`. No reply; missing means nothing is counted. */
  forget?(nodeid: NodeId, nlookup: number): void;
  /** stat(2). `req.fh` is valid when `req.getattrFlags & GETATTR_FH` (fstat). */
  getattr?(req: GetattrRequest, ctx: RequestContext): HandlerResult<AttrOut>;
  /** chmod/chown/truncate/utimes. `req.valid` (FATTR_*) says which fields to apply; answer the resulting attributes. */
  setattr?(req: SetattrRequest, ctx: RequestContext): HandlerResult<AttrOut>;
  /** The symlink's target, without NUL. */
  readlink?(req: ReadlinkRequest, ctx: RequestContext): HandlerResult<string | Buffer>;
  /** Create the symlink `req.name` to `req.target` in directory `ctx.nodeid`. Adds a lookup reference. */
  symlink?(req: SymlinkRequest, ctx: RequestContext): HandlerResult<EntryOut>;
  /** Create a file, FIFO, socket or device node. Without `create`, the kernel also uses it for open(O_CREAT). */
  mknod?(req: MknodRequest, ctx: RequestContext): HandlerResult<EntryOut>;
  /** Create the directory `req.name` in `ctx.nodeid`. Adds a lookup reference. */
  mkdir?(req: MkdirRequest, ctx: RequestContext): HandlerResult<EntryOut>;
  /** Remove `req.name` from directory `ctx.nodeid`. The inode lives on while the kernel holds lookup references or open files to it. */
  unlink?(req: UnlinkRequest, ctx: RequestContext): HandlerResult<void>;
  /** Remove the empty directory `req.name` from `ctx.nodeid` (ENOTEMPTY if it is not empty). */
  rmdir?(req: RmdirRequest, ctx: RequestContext): HandlerResult<void>;
  /** RENAME and RENAME2: `req.flags` may hold RENAME_NOREPLACE (1), RENAME_EXCHANGE (2), RENAME_WHITEOUT (4). ENOSYS for flagged renames makes them EINVAL from then on. */
  rename?(req: RenameRequest, ctx: RequestContext): HandlerResult<void>;
  /** Hard link `req.oldnodeid` as `req.name` in `ctx.nodeid`. */
  link?(req: LinkRequest, ctx: RequestContext): HandlerResult<EntryOut>;
  /** open(2) of a non-directory. ENOSYS makes every later open succeed without a request (and without RELEASE). */
  open?(req: OpenRequest, ctx: RequestContext): HandlerResult<OpenReply>;
  /**
   * Read up to `req.size` bytes at `req.offset`. Either fill `dest` (exactly
   * `req.size` bytes long) and return the count, or return your own bytes. A
   * short result means end of file, unless FOPEN_DIRECT_IO is set.
   */
  read?(req: ReadRequest, ctx: RequestContext, dest: Buffer): HandlerResult<number | Uint8Array>;
  /** Write `req.data` at `req.offset`; return the number of bytes written. `req.data` is valid only until the promise settles. */
  write?(req: WriteRequest, ctx: RequestContext): HandlerResult<number>;
  /** statfs(2). Missing: a zeroed answer with namelen 255 and bsize 512. */
  statfs?(req: StatfsRequest, ctx: RequestContext): HandlerResult<StatfsOut>;
  /** Last close of an open file; the handle is gone after this. Missing: success. */
  release?(req: ReleaseRequest, ctx: RequestContext): HandlerResult<void>;
  /** fsync/fdatasync (`req.fsyncFlags & FSYNC_FDATASYNC` = data only). ENOSYS: later fsyncs succeed without a request. */
  fsync?(req: FsyncRequest, ctx: RequestContext): HandlerResult<void>;
  /** Set an extended attribute. ENOSYS: EOPNOTSUPP from then on. */
  setxattr?(req: SetxattrRequest, ctx: RequestContext): HandlerResult<void>;
  /** The value; fusekit answers size probes (req.size 0) and ERANGE itself. ENOSYS: EOPNOTSUPP from then on. */
  getxattr?(req: GetxattrRequest, ctx: RequestContext): HandlerResult<Buffer>;
  /** The names; fusekit NUL-terminates them and answers size probes and ERANGE. */
  listxattr?(req: ListxattrRequest, ctx: RequestContext): HandlerResult<(string | Buffer)[]>;
  /** Remove an extended attribute (ENODATA if it is not set). ENOSYS: EOPNOTSUPP from then on. */
  removexattr?(req: RemovexattrRequest, ctx: RequestContext): HandlerResult<void>;
  /** Every close(2) of a descriptor (several per open after dup). ENOSYS: closes succeed without a request. */
  flush?(req: FlushRequest, ctx: RequestContext): HandlerResult<void>;
  /**
   * Missing or ENOSYS: later opendirs succeed without a request, RELEASEDIR is
   * never sent, readdir gets fh 0, and the kernel keeps listings in its page
   * cache (as FOPEN_CACHE_DIR|KEEP_CACHE), dropping one when the directory's
   * mtime changes (checked once attributes expire, with AUTO_INVAL_DATA) or
   * when a change goes through the mount.
   */
  opendir?(req: OpendirRequest, ctx: RequestContext): HandlerResult<OpenReply>;
  /** Add records from cookie `req.offset` (0 = start) until `out.add` returns false or the directory ends. */
  readdir?(req: ReaddirRequest, ctx: RequestContext, out: DirentSink): HandlerResult<void>;
  /**
   * READDIRPLUS: used only when implemented (DO_READDIRPLUS is then
   * negotiated, and READDIRPLUS_AUTO unless `readdirplusAlways`). A record
   * whose entry has node id 0 gives the name and type alone: the kernel looks
   * the name up if a caller asks for it.
   */
  readdirplus?(req: ReaddirplusRequest, ctx: RequestContext, out: DirentPlusSink): HandlerResult<void>;
  /** Last close of a directory handle from opendir; the handle is gone after this. Missing: success. */
  releasedir?(req: ReleasedirRequest, ctx: RequestContext): HandlerResult<void>;
  /** fsync(2) of a directory. ENOSYS: later fsyncs of directories succeed without a request. */
  fsyncdir?(req: FsyncdirRequest, ctx: RequestContext): HandlerResult<void>;
  /** POSIX locks are sent only when the filesystem implements getlk and setlk (POSIX_LOCKS is then negotiated). */
  getlk?(req: GetlkRequest, ctx: RequestContext): HandlerResult<FileLock>;
  /** Take or release a lock. With `req.sleep` (SETLKW) answer once the lock is granted; an interrupt aborts `ctx.signal`. */
  setlk?(req: SetlkRequest, ctx: RequestContext): HandlerResult<void>;
  /** access(2), R_OK/W_OK/X_OK in `req.mask`. Not sent with -o default_permissions. ENOSYS: always allowed. */
  access?(req: AccessRequest, ctx: RequestContext): HandlerResult<void>;
  /** open(O_CREAT) atomically. ENOSYS: the kernel uses mknod + open instead. */
  create?(req: CreateRequest, ctx: RequestContext): HandlerResult<CreateReply>;
  /** open(O_TMPFILE): create and open an unnamed file in directory `ctx.nodeid`. ENOSYS: EOPNOTSUPP from then on. */
  tmpfile?(req: TmpfileRequest, ctx: RequestContext): HandlerResult<CreateReply>;
  /** The device block that holds file block `req.block`. Sent only for mounts on a block device. */
  bmap?(req: BmapRequest, ctx: RequestContext): HandlerResult<number>;
  /** ioctl(2) on an open file. ENOSYS reaches the caller as ENOTTY. */
  ioctl?(req: IoctlRequest, ctx: RequestContext): HandlerResult<IoctlReply>;
  /** The ready events among `req.events`. ENOSYS: every file counts as always ready from then on. */
  poll?(req: PollRequest, ctx: RequestContext): HandlerResult<number>;
  /** fallocate(2): allocate, punch or zero `req.length` bytes at `req.offset` as `req.mode` says. ENOSYS: EOPNOTSUPP from then on. */
  fallocate?(req: FallocateRequest, ctx: RequestContext): HandlerResult<void>;
  /** SEEK_DATA / SEEK_HOLE only; the kernel does SET/CUR/END itself. ENOSYS: the whole file is data. */
  lseek?(req: LseekRequest, ctx: RequestContext): HandlerResult<number>;
  /** Return the bytes copied. ENOSYS: the kernel copies through read and write. */
  copyFileRange?(req: CopyFileRangeRequest, ctx: RequestContext): HandlerResult<number>;
  /** syncfs(2) of the whole filesystem. Linux sends it only to virtiofs today, so a /dev/fuse mount does not see it. */
  syncfs?(req: SyncfsRequest, ctx: RequestContext): HandlerResult<void>;
  /**
   * statx(2) beyond what GETATTR gives (e.g. birth time). ENOSYS: GETATTR is
   * used, and the kernel answers statx(2) from its cached attributes with no
   * birth time.
   *
   * What implementing it costs: LOOKUP, CREATE, READDIRPLUS and GETATTR replies
   * carry no birth time, so the kernel holds an inode's birth time as unknown
   * until a STATX reply gives it. Every statx(2) that asks for it (Node's
   * `fs.stat` always does, as do `stat(1)` and `ls`) therefore sends one STATX
   * for each inode, after the LOOKUP that found it, even while its attributes
   * are cached: the first stat of every file takes two round trips instead of
   * one. A filesystem whose callers need birth times should implement it;
   * one that only serves ordinary stats should leave it out (the mirror makes
   * it an option, `statx`).
   */
  statx?(req: StatxRequest, ctx: RequestContext): HandlerResult<StatxOut>;
}
