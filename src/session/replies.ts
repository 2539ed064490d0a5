/**
 * Replies: a request in flight (`Exchange`), the writer that encodes each kind
 * of answer into the channel's scratch buffer and writes it in one write(2),
 * and the directory sinks that READDIR and READDIRPLUS handlers fill.
 *
 * Whatever a filesystem granted but the kernel never received is undone here:
 * an entry's lookup reference goes back to the filesystem, and an open (or the
 * open half of a CREATE) is released, so no handle, descriptor or backing id
 * outlives a reply that did not arrive or was refused on the way out.
 */
import {
  encodeDirent, encodeDirentplus, encodeEntryOut, encodeGetxattrOut, encodeIoctlOut, encodeOpenOut, direntSize,
  direntplusSize, isDotOrDotDot, nameLength, writeOutHeader, Fopen, OUT_HEADER_SIZE,
} from '../abi/index.js';
import type { EntryOut, FileHandle, InHeader, NodeId, ReleaseRequest, ReleasedirRequest } from '../abi/index.js';
import { errnoName } from '../fs/errors.js';
import type { CreateReply, DirentPlusSink, DirentSink, Filesystem, IoctlReply, OpenReply, RequestContext } from '../fs/filesystem.js';
import type { PassthroughManager } from '../passthrough/manager.js';
import type { Channel, RequestBuffer } from '../transport/channel.js';
import type { LookupLedger } from './lookups.js';
import type { SessionStats } from './stats.js';
import { constants as osConstants } from 'node:os';

const E = osConstants.errno;

/**
 * One request from its decoding to its reply: what the handler sees as its
 * context, the request buffer to give back, and the reply buffer a READ or
 * READDIR fills. One object per request, so the hot path allocates no closures.
 */
export class Exchange implements RequestContext {
  controller: AbortController | undefined;
  /** A full-size reply buffer taken for READ or READDIR data, given back when the request completes. */
  replyBuffer: Buffer | undefined;
  /** READ: the part of `replyBuffer` the handler fills. */
  readDest: Buffer | undefined;
  /** READDIR/READDIRPLUS: the records collected in `replyBuffer`. */
  sink: DirentWriter | DirentPlusWriter | undefined;
  /** Set once the request has been answered (or its answer dropped): later answers are ignored. */
  answered = false;
  /** Logged as slow already. */
  reportedSlow = false;
  /** A blocking lock wait (SETLKW): exempt from the deadline. */
  waitsForLock = false;
  /** When the request was read, for the in-flight report. */
  readonly startedAt: number;

  constructor(readonly header: InHeader, readonly op: string, readonly buffer: RequestBuffer | undefined) {
    this.startedAt = performance.now();
  }

  get nodeid(): NodeId {
    return this.header.nodeid;
  }

  get uid(): number {
    return this.header.uid;
  }

  get gid(): number {
    return this.header.gid;
  }

  get pid(): number {
    return this.header.pid;
  }

  get unique(): bigint {
    return this.header.unique;
  }

  get signal(): AbortSignal {
    // Created on first use: most handlers never look at it.
    this.controller ??= new AbortController();
    return this.controller.signal;
  }

  /** Aborts `signal` with an AbortError (which answers EINTR if the handler rethrows it). */
  abort(message: string): void {
    this.controller ??= new AbortController();
    if (!this.controller.signal.aborted) this.controller.abort(Object.assign(new Error(message), { name: 'AbortError' }));
  }
}

/** What the reply writer needs from the session. */
export interface ReplyDeps {
  channel: Channel;
  /** Largest READ or READDIR reply payload (the negotiated max_write). */
  maxWrite: number;
  stats: SessionStats;
  lookups: LookupLedger;
  fs: Filesystem;
  passthrough: PassthroughManager | undefined;
  debug: ((line: string) => void) | undefined;
  /** Reports a failure once per cause. */
  logOnce(where: string, err: unknown): void;
}

/** Encodes and writes replies. Each returns after one write(2); the kernel copies the reply at once. */
/**
 * The file types the kernel takes in attributes (`fuse_valid_type`), one bit
 * per S_IFMT >> 12: FIFO, CHR, DIR, BLK, REG, LNK, SOCK.
 */
const VALID_TYPES = (1 << 1) | (1 << 2) | (1 << 4) | (1 << 6) | (1 << 8) | (1 << 10) | (1 << 12);

/**
 * Throws unless `mode` has a file type the kernel accepts. It answers EIO to
 * an entry without one, after the reply was taken (nothing would be logged),
 * and marks a known inode bad for good when GETATTR gives it another type.
 */
export function checkAttrType(mode: unknown, what: string): void {
  if (typeof mode === 'number' && (VALID_TYPES >>> ((mode >>> 12) & 0xf)) & 1) return;
  const shown = typeof mode === 'number' ? `0o${mode.toString(8)}` : String(mode);
  throw new TypeError(`${what} gave attributes whose mode (${shown}) has no file type: it must include one of S_IFREG, S_IFDIR, S_IFLNK, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK`);
}

export class ReplyWriter {
  constructor(private readonly d: ReplyDeps) {}

  /**
   * Writes `len` bytes of `buf` (header included) as the reply to `x`.
   * Returns 0, or a negative errno when the kernel did not take it (ENOENT:
   * the request was interrupted and is gone).
   */
  send(x: Exchange, buf: Buffer, len: number, errno = 0): number {
    writeOutHeader(buf, len, -errno, x.header.unique);
    const r = this.d.channel.write(buf, len);
    if (this.d.debug) this.d.debug(`< ${x.header.unique} ${errno ? errnoName(errno) : 'OK'} ${len - OUT_HEADER_SIZE}B${r < 0 ? ` (write failed: ${errnoName(-r)})` : ''}`);
    if (r < 0 && errno === 0 && r !== -E.ENOENT && r !== -E.ENODEV && r !== -E.ECONNABORTED) {
      // The kernel refused the reply itself (a malformed one: EINVAL,
      // EFAULT). Left unanswered, the caller would wait forever, beyond
      // the reach of signals: answer EIO, which a header alone always is.
      this.d.logOnce(`${x.op} reply`, new Error(`the kernel refused the ${len}-byte reply (${errnoName(-r)}); the caller got EIO`));
      this.error(x, E.EIO);
    }
    return r;
  }

  error(x: Exchange, errno: number): void {
    this.d.stats.countError(errnoName(errno));
    this.send(x, this.d.channel.replyScratch, OUT_HEADER_SIZE, errno);
  }

  empty(x: Exchange): void {
    this.send(x, this.d.channel.replyScratch, OUT_HEADER_SIZE);
  }

  /** A reply that is one structure: `encode` writes `value` at the offset and returns its size. */
  struct<V>(x: Exchange, encode: (buf: Buffer, off: number, value: V) => number, value: V): number {
    const buf = this.d.channel.replyScratch;
    const n = encode(buf, OUT_HEADER_SIZE, value);
    return this.send(x, buf, OUT_HEADER_SIZE + n);
  }

  bytes(x: Exchange, data: Uint8Array): void {
    const buf = this.d.channel.replyScratch;
    buf.set(data, OUT_HEADER_SIZE);
    this.send(x, buf, OUT_HEADER_SIZE + data.length);
  }

  /** GETXATTR/LISTXATTR: size 0 asks for the length; a value larger than `size` is ERANGE. */
  sized(x: Exchange, data: Buffer, size: number): void {
    if (size === 0) this.struct(x, encodeGetxattrOut, data.length);
    else if (data.length > size) this.error(x, E.ERANGE);
    else this.bytes(x, data);
  }

  /** An entry (LOOKUP, MKNOD, MKDIR, SYMLINK, LINK): counted if delivered, given back if not. */
  entry(x: Exchange, e: EntryOut): void {
    let r: number;
    try {
      if (e.nodeid !== 0) checkAttrType(e.attr.mode, x.op);
      r = this.struct(x, encodeEntryOut, e);
    } catch (err) {
      this.d.lookups.giveBack(e.nodeid);
      throw err;
    }
    this.d.lookups.settle(e.nodeid, r === 0);
  }

  /** OPEN or OPENDIR: passthrough decided (regular files), then written; undone if refused or undelivered. */
  open(x: Exchange, requestFlags: number, o: OpenReply, regularFile: boolean): void {
    const nodeid = x.header.nodeid;
    const r = this.resolveOrUndo(x, nodeid, requestFlags, o, regularFile, undefined);
    let w: number;
    try {
      w = this.struct(x, encodeOpenOut, { fh: o.fh as FileHandle, openFlags: r.openFlags, backingId: r.backingId });
    } catch (err) {
      this.undoOpen(x, nodeid, o.fh, regularFile, true);
      throw err;
    }
    if (w !== 0) this.undoOpen(x, nodeid, o.fh, regularFile, true);
  }

  /** CREATE or TMPFILE: an entry and an open in one reply; both undone together. */
  create(x: Exchange, requestFlags: number, c: CreateReply): void {
    const nodeid = c.entry.nodeid;
    const r = this.resolveOrUndo(x, nodeid, requestFlags, c.open, true, c.entry);
    const buf = this.d.channel.replyScratch;
    let w: number;
    try {
      checkAttrType(c.entry.attr.mode, x.op);
      const n = encodeEntryOut(buf, OUT_HEADER_SIZE, c.entry);
      const m = encodeOpenOut(buf, OUT_HEADER_SIZE + n, { fh: c.open.fh as FileHandle, openFlags: r.openFlags, backingId: r.backingId });
      w = this.send(x, buf, OUT_HEADER_SIZE + n + m);
    } catch (err) {
      this.d.lookups.giveBack(nodeid);
      this.undoOpen(x, nodeid, c.open.fh, true, true);
      throw err;
    }
    this.d.lookups.settle(nodeid, w === 0);
    if (w !== 0) this.undoOpen(x, nodeid, c.open.fh, true, true);
  }

  /**
   * The final FOPEN flags and backing id (the passthrough manager's decision for
   * regular files). When the decision refuses the open (EBUSY under
   * `writableConflict: 'refuse'`), what the filesystem granted is undone before
   * the refusal is answered.
   */
  private resolveOrUndo(x: Exchange, nodeid: NodeId, requestFlags: number, o: OpenReply, regularFile: boolean, entry: EntryOut | undefined): { openFlags: number; backingId: number } {
    const pt = this.d.passthrough;
    if (!pt || !regularFile) return { openFlags: (o.openFlags ?? 0) & ~Fopen.PASSTHROUGH, backingId: 0 };
    try {
      return pt.resolveOpen(nodeid, o.fh, requestFlags, o);
    } catch (err) {
      if (entry) this.d.lookups.giveBack(entry.nodeid);
      this.undoOpen(x, nodeid, o.fh, true, false);
      throw err;
    }
  }

  /**
   * An open the kernel never received gets no RELEASE from it: release it here.
   * `decided` says whether the passthrough manager recorded the open.
   */
  undoOpen(x: Exchange, nodeid: NodeId, fh: FileHandle | number, regularFile: boolean, decided: boolean): void {
    if (regularFile && decided) this.d.passthrough?.undoOpen(nodeid, fh);
    const header: InHeader = { ...x.header, nodeid };
    const ctx = new Exchange(header, regularFile ? 'RELEASE' : 'RELEASEDIR', undefined);
    const base = { header, fh: fh as FileHandle, flags: 0, releaseFlags: 0, lockOwner: 0n };
    const fs = this.d.fs;
    Promise.resolve()
      .then(() => {
        if (regularFile) {
          const req: ReleaseRequest = { op: 'RELEASE', ...base };
          return fs.release?.(req, ctx);
        }
        const req: ReleasedirRequest = { op: 'RELEASEDIR', ...base };
        return fs.releasedir?.(req, ctx);
      })
      .catch((err) => this.d.logOnce('release of an undelivered open', err));
  }

  /** A reply buffer for READ data of up to `size` bytes; returns the part the handler fills. */
  takeDataBuffer(x: Exchange, size: number): Buffer {
    const n = Math.min(size, this.d.maxWrite);
    const buf = this.takeReplyBuffer(x, n);
    return (x.readDest = buf.subarray(OUT_HEADER_SIZE, OUT_HEADER_SIZE + n));
  }

  /** A sink writing READDIR records of up to `size` bytes into a reply buffer. */
  takeDirentWriter(x: Exchange, size: number): DirentWriter {
    const n = Math.min(size, this.d.maxWrite);
    const sink = new DirentWriter(this.takeReplyBuffer(x, n), OUT_HEADER_SIZE, OUT_HEADER_SIZE + n);
    x.sink = sink;
    return sink;
  }

  /** A sink writing READDIRPLUS records of up to `size` bytes into a reply buffer. */
  takeDirentPlusWriter(x: Exchange, size: number): DirentPlusWriter {
    const n = Math.min(size, this.d.maxWrite);
    const sink = new DirentPlusWriter(this.takeReplyBuffer(x, n), OUT_HEADER_SIZE, OUT_HEADER_SIZE + n);
    x.sink = sink;
    return sink;
  }

  private takeReplyBuffer(x: Exchange, payload: number): Buffer {
    // The pool's buffers hold maxWrite + a page, enough for any payload; when all are in use, a one-off one.
    const buf = this.d.channel.takeLargeBuffer() ?? Buffer.allocUnsafe(OUT_HEADER_SIZE + payload);
    x.replyBuffer = buf;
    return buf;
  }

  /** Gives back `x`'s reply buffer, once its handler has finished with it. */
  releaseReplyBuffer(x: Exchange): void {
    const b = x.replyBuffer;
    if (!b) return;
    x.replyBuffer = undefined;
    x.readDest = undefined;
    if (b.length === this.d.channel.readBufferSize) this.d.channel.giveLargeBuffer(b);
  }

  /** READ: `v` is a byte count written into the data buffer, or the handler's own bytes. */
  read(x: Exchange, v: number | Uint8Array): void {
    const dest = x.readDest!;
    let n: number;
    if (typeof v === 'number') {
      if (!Number.isInteger(v) || v < 0) throw new TypeError(`read must give a byte count (an integer, 0 or more) or bytes, not ${String(v)}`);
      // More than the buffer holds would send whatever the pooled buffer held before (another request's data).
      if (v > dest.length) throw new TypeError(`read gave a byte count of ${v}, more than the ${dest.length} bytes asked for and written into its buffer`);
      n = v;
    } else {
      n = Math.min(v.length, dest.length);
      if (!(v.buffer === dest.buffer && v.byteOffset === dest.byteOffset)) dest.set(v.subarray(0, n));
    }
    this.send(x, x.replyBuffer!, OUT_HEADER_SIZE + n);
  }

  /** READDIR/READDIRPLUS: the records the sink collected; READDIRPLUS entries are counted or given back. */
  dir(x: Exchange): void {
    const sink = x.sink!;
    const r = this.send(x, sink.buf, sink.end);
    if (sink instanceof DirentPlusWriter) {
      for (const id of sink.referenced) this.d.lookups.settle(id, r === 0);
    }
  }

  /** A READDIRPLUS answer that will not be sent: the entries it holds go back. */
  discardDir(x: Exchange): void {
    const sink = x.sink;
    if (sink instanceof DirentPlusWriter) for (const id of sink.referenced) this.d.lookups.giveBack(id);
  }

  /** An entry that will not be sent goes back. */
  discardEntry(e: EntryOut): void {
    this.d.lookups.giveBack(e.nodeid);
  }

  /** A CREATE answer that will not be sent: its entry goes back and its open is released. */
  discardCreate(x: Exchange, c: CreateReply): void {
    this.d.lookups.giveBack(c.entry.nodeid);
    this.undoOpen(x, c.entry.nodeid, c.open.fh, true, false);
  }

  /** RELEASE: the passthrough manager forgets the open (and closes the inode's backing id after its last one). */
  releasePassthrough(nodeid: NodeId, fh: FileHandle): void {
    this.d.passthrough?.release(nodeid, fh);
  }

  /** IOCTL: the result code and the output data (restricted ioctls carry no iovecs). */
  ioctl(x: Exchange, v: IoctlReply): void {
    const buf = this.d.channel.replyScratch;
    const n = encodeIoctlOut(buf, OUT_HEADER_SIZE, { result: v.result, flags: 0, inIovs: 0, outIovs: 0 });
    const m = v.data ? v.data.copy(buf, OUT_HEADER_SIZE + n) : 0;
    this.send(x, buf, OUT_HEADER_SIZE + n + m);
  }
}

/** READDIR records written straight into the reply buffer. */
export class DirentWriter implements DirentSink {
  /** End of the records written so far (the reply's length). */
  end: number;

  constructor(readonly buf: Buffer, start: number, private readonly limit: number) {
    this.end = start;
  }

  add(name: string | Buffer, ino: number, type: number, nextOffset: bigint): boolean {
    if (this.end + direntSize(nameLength(name)) > this.limit) return false;
    this.end += encodeDirent(this.buf, this.end, ino, nextOffset, type, name);
    return true;
  }

  /** Bytes still free in the reply. */
  get room(): number {
    return this.limit - this.end;
  }

  /**
   * Appends `records[start, end)`: whole `fuse_dirent` records encoded
   * beforehand (encodeDirent), as a filesystem that keeps a listing encoded
   * copies it into the reply instead of encoding it again. Returns false,
   * having added nothing, when they do not fit.
   */
  addRecords(records: Uint8Array, start: number, end: number): boolean {
    if (!(start >= 0 && start <= end && end <= records.length)) throw new RangeError(`records [${start}, ${end}) outside ${records.length} bytes`);
    if (this.end + (end - start) > this.limit) return false;
    this.buf.set(records.subarray(start, end), this.end);
    this.end += end - start;
    return true;
  }
}

/** `.` or `..`, as a string or as bytes. */
function isDotName(name: string | Buffer): boolean {
  return typeof name === 'string' ? name === '.' || name === '..' : isDotOrDotDot(name);
}

/** READDIRPLUS records written straight into the reply buffer; remembers which carry a lookup reference. */
export class DirentPlusWriter implements DirentPlusSink {
  end: number;
  /** Node ids given to the kernel (every entry but `.`, `..` and node id 0). */
  readonly referenced: NodeId[] = [];

  constructor(readonly buf: Buffer, start: number, private readonly limit: number) {
    this.end = start;
  }

  fits(nameLength: number): boolean {
    return this.end + direntplusSize(nameLength) <= this.limit;
  }

  add(name: string | Buffer, entry: EntryOut, nextOffset: bigint): boolean {
    if (this.end + direntplusSize(nameLength(name)) > this.limit) return false;
    if (entry.nodeid !== 0) checkAttrType(entry.attr.mode, 'READDIRPLUS');
    this.end += encodeDirentplus(this.buf, this.end, entry, nextOffset, (entry.attr.mode >>> 12) & 0xf, name);
    if (entry.nodeid !== 0 && !isDotName(name)) this.referenced.push(entry.nodeid);
    return true;
  }
}
