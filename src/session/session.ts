/**
 * The session: INIT negotiation, dispatch of each request to the filesystem,
 * request lifetime (interrupts as AbortSignal, lookup counts), replies, and
 * the end of the connection. It knows what an opcode means, not how a file is
 * stored, and never touches the device except through the channel.
 */
import {
  AbiError, decodeInHeader, decodeRequest, writeOutHeader,
  encodeEntryOut, encodeAttrOut, encodeOpenOut, encodeWriteOut, encodeStatfsOut, encodeGetxattrOut,
  encodeLkOut, encodeBmapOut, encodeLseekOut, encodeCopyFileRangeOut, encodePollOut, encodeIoctlOut,
  encodeStatxOut, encodeInitOut, encodeDirent, encodeDirentplus, direntSize, direntplusSize,
  encodeNotifyInvalInode, encodeNotifyInvalEntry, encodeNotifyPrune,
  Fopen, InitFlag, KERNEL_MINOR_VERSION, opcodeName,
} from '../abi/index.js';
import type {
  EntryOut, FuseRequest, InHeader, InitOut, InitRequest, NodeId, DecodeOptions,
} from '../abi/index.js';
import type { ChannelEnd, FuseChannel, RequestBuffer } from '../transport/channel.js';
import { Errno, errnoFromError, errnoName } from '../fs/errors.js';
import type { CreateReply, DirentPlusSink, DirentSink, Filesystem, InitInfo, Notifier, OpenReply, RequestContext } from '../fs/filesystem.js';
import { SessionStats } from './stats.js';
import { negotiateInit } from './negotiate.js';
import { PassthroughManager } from '../passthrough/manager.js';
import type { PassthroughConfig, PassthroughStats } from '../passthrough/manager.js';
import { open as sysOpen, tryClose } from '../sys/index.js';
import { O_PATH, O_DIRECTORY, O_CLOEXEC } from '../sys/constants.js';
import { constants as osConstants } from 'node:os';

const E = osConstants.errno;
const OUT_HEADER = 16;
const PAGE = 4096;

export interface SessionOptions {
  /** Largest WRITE the kernel may send (default 1 MiB; the channel's read buffers must match). */
  maxWrite?: number;
  /** Upper bound for the kernel's readahead; default: what the kernel offers. */
  maxReadahead?: number;
  /** Outstanding background requests (readahead, async direct I/O); default 64. */
  maxBackground?: number;
  /** INIT capabilities to ask for beyond the defaults, and ones to refuse. */
  wantFlags?: bigint;
  refuseFlags?: bigint;
  /** Kernel passthrough (Linux 6.9+): on when given, with the policy for which opens use it. */
  passthrough?: PassthroughConfig;
  /** One line per request and per reply. */
  debug?: (line: string) => void;
  /** Errors worth an operator's attention (each distinct cause once). */
  log?: (line: string) => void;
}

/** A request in flight: what the handler sees, and the abort controller INTERRUPT reaches. */
class Context implements RequestContext {
  controller: AbortController | undefined;
  constructor(private readonly header: InHeader) {}
  get nodeid(): NodeId { return this.header.nodeid; }
  get uid(): number { return this.header.uid; }
  get gid(): number { return this.header.gid; }
  get pid(): number { return this.header.pid; }
  get unique(): bigint { return this.header.unique; }
  get signal(): AbortSignal {
    // Created on first use: most handlers never look at it.
    this.controller ??= new AbortController();
    return this.controller.signal;
  }
}

function isPromise(v: unknown): v is Promise<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

function isDotOrDotDot(b: Buffer): boolean {
  return (b.length === 1 && b[0] === 0x2e) || (b.length === 2 && b[0] === 0x2e && b[1] === 0x2e);
}

export class Session {
  readonly stats = new SessionStats();
  private readonly maxWrite: number;
  private decode: DecodeOptions = { minor: KERNEL_MINOR_VERSION, setxattrExt: false };
  private initialized = false;
  private destroyed = false;
  /** Requests whose handler is still running (asynchronously), by unique: where INTERRUPT finds them. */
  private readonly pending = new Map<bigint, Context>();
  /** The kernel's lookup references per node id, as fusekit delivered them. */
  private readonly lookups = new Map<number, number>();
  private readonly loggedCauses = new Set<string>();
  private endResolve!: (end: ChannelEnd) => void;
  private readyResolve!: (info: InitInfo) => void;
  private readyReject!: (err: Error) => void;
  /** Resolves once INIT has been answered. */
  readonly ready: Promise<InitInfo>;
  /** Resolves when the connection is gone (unmount, abort, or close). */
  readonly ended: Promise<ChannelEnd>;
  info: InitInfo | undefined;
  /** Present when the session was asked to use passthrough (whatever the kernel then allowed). */
  readonly passthrough: PassthroughManager | undefined;

  constructor(readonly fs: Filesystem, readonly channel: FuseChannel, readonly options: SessionOptions = {}) {
    this.maxWrite = options.maxWrite ?? 1 << 20;
    if (channel.readBufferSize < this.maxWrite + PAGE) {
      throw new RangeError(`channel read buffers (${channel.readBufferSize}) are smaller than maxWrite + 4096`);
    }
    this.ended = new Promise((resolve) => { this.endResolve = resolve; });
    this.passthrough = options.passthrough ? new PassthroughManager(channel, options.passthrough, (l) => this.log(l)) : undefined;
    this.ready = new Promise((resolve, reject) => {
      this.readyResolve = resolve;
      this.readyReject = reject;
    });
    // Nobody need be waiting for INIT; a failure is also logged.
    this.ready.catch(() => undefined);
  }

  start(): void {
    this.channel.start((rb) => this.onRequest(rb), (end) => void this.onEnd(end), () => this.idleWork());
  }

  /** One piece of deferred work between requests (backing ids to close, then the filesystem's own); false when none is left. */
  private idleWork(): boolean {
    if (this.passthrough?.closeOnePending()) return true;
    return this.fs.idle?.() ?? false;
  }

  /** Lookup references the kernel holds on `nodeid` (0 once forgotten). The root is never counted. */
  lookupCount(nodeid: number): number {
    return this.lookups.get(nodeid) ?? 0;
  }

  get knownNodes(): number {
    return this.lookups.size;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  private async onEnd(end: ChannelEnd): Promise<void> {
    this.passthrough?.shutdown();
    if (!this.destroyed) {
      this.destroyed = true;
      try {
        await this.fs.destroy?.();
      } catch (err) {
        this.logOnce('destroy', err);
      }
    }
    this.endResolve(end);
  }

  // ---- request intake ----

  private onRequest(rb: RequestBuffer): void {
    let header: InHeader;
    try {
      header = decodeInHeader(rb.buf, rb.len);
    } catch (err) {
      rb.release();
      this.logOnce('header', err);
      return;
    }
    const opName = opcodeName(header.opcode);
    this.stats.countRequest(opName);
    let req: FuseRequest;
    try {
      req = decodeRequest(rb.buf, rb.len, this.decode, header);
    } catch (err) {
      const errno = err instanceof AbiError ? err.errno : E.EIO;
      this.logOnce(`decode ${opName}`, err);
      this.replyError(header, errno);
      rb.release();
      return;
    }
    if (this.options.debug) this.options.debug(`> ${header.unique} ${opName} node=${header.nodeid} uid=${header.uid} pid=${header.pid}${describe(req)}`);

    switch (req.op) {
      case 'INIT':
        void this.handleInit(req).finally(() => rb.release());
        return;
      case 'FORGET':
        this.forget(header.nodeid, req.nlookup);
        rb.release();
        return;
      case 'BATCH_FORGET':
        for (const f of req.forgets) this.forget(f.nodeid, f.nlookup);
        rb.release();
        return;
      case 'INTERRUPT': {
        // Interrupts for requests already answered are simply dropped.
        const p = this.pending.get(req.target);
        if (p) {
          p.controller ??= new AbortController();
          p.controller.abort(Object.assign(new Error('interrupted by the kernel'), { name: 'AbortError' }));
        }
        rb.release();
        return;
      }
      case 'DESTROY':
        this.destroyed = true;
        void Promise.resolve()
          .then(() => this.fs.destroy?.())
          .catch((err) => this.logOnce('destroy', err))
          .finally(() => { this.replyEmpty(header); rb.release(); });
        return;
      case 'NOTIFY_REPLY':
        rb.release();
        return;
    }
    if (!this.initialized) {
      this.replyError(header, E.EIO);
      rb.release();
      return;
    }
    this.dispatch(req, header, rb);
  }

  private forget(nodeid: NodeId, nlookup: number): void {
    const had = this.lookups.get(nodeid) ?? 0;
    const left = had - nlookup;
    if (left > 0) this.lookups.set(nodeid, left);
    else this.lookups.delete(nodeid);
    if (left < 0) this.logOnce('forget', new Error(`kernel forgot node ${nodeid} ${nlookup} times but held ${had} references`));
    try {
      this.fs.forget?.(nodeid, nlookup);
    } catch (err) {
      this.logOnce('forget', err);
    }
  }

  private addLookup(nodeid: number): void {
    this.lookups.set(nodeid, (this.lookups.get(nodeid) ?? 0) + 1);
  }

  // ---- INIT ----

  private async handleInit(req: InitRequest): Promise<void> {
    const h = req.header;
    let want = (this.options.wantFlags ?? 0n) | (this.fs.initFlags ?? 0n);
    if (this.fs.readdirplus) want |= InitFlag.DO_READDIRPLUS | InitFlag.READDIRPLUS_AUTO;
    if (this.fs.getlk && this.fs.setlk) want |= InitFlag.POSIX_LOCKS;
    const pt = this.passthrough;
    if (pt?.wanted) want |= InitFlag.PASSTHROUGH;
    const n = negotiateInit(req.init, {
      want,
      refuse: this.options.refuseFlags ?? 0n,
      maxWrite: this.maxWrite,
      maxReadahead: this.options.maxReadahead,
      maxBackground: this.options.maxBackground ?? 64,
      maxStackDepth: this.options.passthrough?.maxStackDepth ?? 1,
    });
    if (n.kind === 'retry') {
      this.writeInit(h, n.reply, n.replySize);
      return;
    }
    if (n.kind === 'refuse') {
      this.log(`fusekit: ${n.reason}`);
      this.replyError(h, E.EPROTO);
      this.readyReject(new Error(n.reason));
      return;
    }
    if (pt?.wanted && (n.enabled & InitFlag.PASSTHROUGH) === 0n) {
      const offered = (req.init.flags & InitFlag.PASSTHROUGH) !== 0n;
      const why = offered ? 'passthrough conflicts with a requested capability' : 'the kernel does not offer passthrough (it needs Linux 6.9+ built with FUSE passthrough)';
      if (pt.policy === 'always') {
        this.replyError(h, E.EOPNOTSUPP);
        this.readyReject(new Error(`passthrough is required (policy always) but ${why}`));
        return;
      }
      pt.disable('kernel-without-passthrough', why);
    }
    const info: InitInfo = { minor: n.minor, offered: req.init.flags, enabled: n.enabled, maxWrite: this.maxWrite, maxReadahead: n.reply.maxReadahead };
    this.decode = { minor: n.minor, setxattrExt: (n.enabled & InitFlag.SETXATTR_EXT) !== 0n };
    try {
      await this.fs.init?.(info, this.notifier);
    } catch (err) {
      this.logOnce('init', err);
      this.replyError(h, errnoFromError(err) ?? E.EIO);
      this.readyReject(new Error(`the filesystem's init failed: ${(err as Error)?.message ?? err}`));
      return;
    }
    this.info = info;
    this.initialized = true;
    this.writeInit(h, n.reply);
    if (pt?.active) {
      const failure = this.probeBackingPermission();
      if (failure) {
        if (pt.policy === 'always') {
          this.readyReject(new Error(`passthrough is required (policy always) but ${failure}`));
          return;
        }
        pt.disable('no-permission', failure);
      }
    }
    this.readyResolve(info);
  }

  /**
   * Registering a directory fails with EISDIR only after the kernel has checked
   * CAP_SYS_ADMIN (EPERM): a harmless probe that tells, before any open, whether
   * this process may use passthrough at all. Returns why not, or undefined.
   */
  private probeBackingPermission(): string | undefined {
    let fd = -1;
    try {
      fd = sysOpen('/', O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
      const id = this.channel.backingOpen(fd);
      this.channel.backingClose(id);
      return undefined;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'EISDIR') return undefined;
      if (code === 'EPERM') return 'this process may not register backing files (it needs CAP_SYS_ADMIN in the initial user namespace)';
      return `registering a backing file fails: ${(err as Error).message}`;
    } finally {
      if (fd >= 0) tryClose(fd);
    }
  }

  private writeInit(h: InHeader, reply: InitOut, forceLen?: number): void {
    const buf = this.channel.replyScratch;
    const len = encodeInitOut(buf, OUT_HEADER, reply);
    this.send(h, buf, OUT_HEADER + (forceLen ?? len));
  }

  // ---- dispatch ----

  private dispatch(req: Exclude<FuseRequest, { op: 'INIT' | 'FORGET' | 'BATCH_FORGET' | 'INTERRUPT' | 'DESTROY' | 'NOTIFY_REPLY' }>, h: InHeader, rb: RequestBuffer): void {
    const fs = this.fs;
    const ctx = new Context(h);
    this.stats.observeInFlight(this.pending.size + 1);
    let result: unknown;
    let reply: (v: unknown) => void;
    let readBuf: Buffer | undefined;
    try {
      switch (req.op) {
        case 'LOOKUP':
          if (!fs.lookup) return this.enosys(h, rb);
          result = fs.lookup(req, ctx);
          reply = (v) => this.replyEntry(h, v as EntryOut);
          break;
        case 'GETATTR':
          if (!fs.getattr) return this.enosys(h, rb);
          result = fs.getattr(req, ctx);
          reply = (v) => this.replyWith(h, (b, o) => encodeAttrOut(b, o, v as never));
          break;
        case 'SETATTR':
          if (!fs.setattr) return this.enosys(h, rb);
          result = fs.setattr(req, ctx);
          reply = (v) => this.replyWith(h, (b, o) => encodeAttrOut(b, o, v as never));
          break;
        case 'READLINK':
          if (!fs.readlink) return this.enosys(h, rb);
          result = fs.readlink(req, ctx);
          reply = (v) => this.replyBytes(h, typeof v === 'string' ? Buffer.from(v) : (v as Buffer));
          break;
        case 'SYMLINK':
          if (!fs.symlink) return this.enosys(h, rb);
          result = fs.symlink(req, ctx);
          reply = (v) => this.replyEntry(h, v as EntryOut);
          break;
        case 'MKNOD':
          if (!fs.mknod) return this.enosys(h, rb);
          result = fs.mknod(req, ctx);
          reply = (v) => this.replyEntry(h, v as EntryOut);
          break;
        case 'MKDIR':
          if (!fs.mkdir) return this.enosys(h, rb);
          result = fs.mkdir(req, ctx);
          reply = (v) => this.replyEntry(h, v as EntryOut);
          break;
        case 'LINK':
          if (!fs.link) return this.enosys(h, rb);
          result = fs.link(req, ctx);
          reply = (v) => this.replyEntry(h, v as EntryOut);
          break;
        case 'UNLINK':
          if (!fs.unlink) return this.enosys(h, rb);
          result = fs.unlink(req, ctx);
          reply = () => this.replyEmpty(h);
          break;
        case 'RMDIR':
          if (!fs.rmdir) return this.enosys(h, rb);
          result = fs.rmdir(req, ctx);
          reply = () => this.replyEmpty(h);
          break;
        case 'RENAME':
          if (!fs.rename) return this.enosys(h, rb);
          result = fs.rename(req, ctx);
          reply = () => this.replyEmpty(h);
          break;
        case 'OPEN':
          if (!fs.open) return this.enosys(h, rb);
          result = fs.open(req, ctx);
          reply = (v) => this.replyOpen(h, req.flags, v as OpenReply, true);
          break;
        case 'OPENDIR':
          if (!fs.opendir) return this.enosys(h, rb);
          result = fs.opendir(req, ctx);
          reply = (v) => this.replyOpen(h, req.flags, v as OpenReply, false);
          break;
        case 'CREATE':
        case 'TMPFILE': {
          const m = req.op === 'CREATE' ? fs.create : fs.tmpfile;
          if (!m) return this.enosys(h, rb);
          result = m.call(fs, req as never, ctx);
          const flags = req.flags;
          reply = (v) => this.replyCreate(h, flags, v as CreateReply);
          break;
        }
        case 'READ': {
          if (!fs.read) return this.enosys(h, rb);
          const size = Math.min(req.size, this.maxWrite);
          readBuf = this.channel.takeLargeBuffer() ?? Buffer.allocUnsafe(OUT_HEADER + size);
          const dest = readBuf.subarray(OUT_HEADER, OUT_HEADER + size);
          const rbuf = readBuf;
          result = fs.read(req, ctx, dest);
          reply = (v) => this.replyRead(h, rbuf, dest, v as number | Uint8Array);
          break;
        }
        case 'WRITE':
          if (!fs.write) return this.enosys(h, rb);
          result = fs.write(req, ctx);
          reply = (v) => this.replyWith(h, (b, o) => encodeWriteOut(b, o, v as number));
          break;
        case 'STATFS':
          result = fs.statfs ? fs.statfs(req, ctx) : { blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0, bsize: 512, namelen: 255, frsize: 0 };
          reply = (v) => this.replyWith(h, (b, o) => encodeStatfsOut(b, o, v as never));
          break;
        case 'RELEASE':
          // The kernel has already left the file's I/O mode when RELEASE arrives.
          this.passthrough?.release(h.nodeid, req.fh);
          result = fs.release?.(req, ctx);
          reply = () => this.replyEmpty(h);
          break;
        case 'RELEASEDIR':
          result = fs.releasedir?.(req, ctx);
          reply = () => this.replyEmpty(h);
          break;
        case 'FSYNC':
          if (!fs.fsync) return this.enosys(h, rb);
          result = fs.fsync(req, ctx);
          reply = () => this.replyEmpty(h);
          break;
        case 'FSYNCDIR':
          if (!fs.fsyncdir) return this.enosys(h, rb);
          result = fs.fsyncdir(req, ctx);
          reply = () => this.replyEmpty(h);
          break;
        case 'FLUSH':
          if (!fs.flush) return this.enosys(h, rb);
          result = fs.flush(req, ctx);
          reply = () => this.replyEmpty(h);
          break;
        case 'SETXATTR':
          if (!fs.setxattr) return this.enosys(h, rb);
          result = fs.setxattr(req, ctx);
          reply = () => this.replyEmpty(h);
          break;
        case 'GETXATTR': {
          if (!fs.getxattr) return this.enosys(h, rb);
          const size = req.size;
          result = fs.getxattr(req, ctx);
          reply = (v) => this.replySized(h, v as Buffer, size);
          break;
        }
        case 'LISTXATTR': {
          if (!fs.listxattr) return this.enosys(h, rb);
          const size = req.size;
          result = fs.listxattr(req, ctx);
          reply = (v) => this.replySized(h, joinNames(v as (string | Buffer)[]), size);
          break;
        }
        case 'REMOVEXATTR':
          if (!fs.removexattr) return this.enosys(h, rb);
          result = fs.removexattr(req, ctx);
          reply = () => this.replyEmpty(h);
          break;
        case 'READDIR':
        case 'READDIRPLUS': {
          const plus = req.op === 'READDIRPLUS';
          if (plus ? !fs.readdirplus : !fs.readdir) return this.enosys(h, rb);
          const size = Math.min(req.size, this.maxWrite);
          readBuf = this.channel.takeLargeBuffer() ?? Buffer.allocUnsafe(OUT_HEADER + size);
          const sink = new DirSink(readBuf, OUT_HEADER, OUT_HEADER + size);
          result = plus ? fs.readdirplus!(req as never, ctx, sink) : fs.readdir!(req as never, ctx, sink);
          reply = () => this.replyDir(h, sink);
          break;
        }
        case 'GETLK':
          if (!fs.getlk) return this.enosys(h, rb);
          result = fs.getlk(req, ctx);
          reply = (v) => this.replyWith(h, (b, o) => encodeLkOut(b, o, v as never));
          break;
        case 'SETLK':
          if (!fs.setlk) return this.enosys(h, rb);
          result = fs.setlk(req, ctx);
          reply = () => this.replyEmpty(h);
          break;
        case 'ACCESS':
          if (!fs.access) return this.enosys(h, rb);
          result = fs.access(req, ctx);
          reply = () => this.replyEmpty(h);
          break;
        case 'BMAP':
          if (!fs.bmap) return this.enosys(h, rb);
          result = fs.bmap(req, ctx);
          reply = (v) => this.replyWith(h, (b, o) => encodeBmapOut(b, o, v as number));
          break;
        case 'IOCTL':
          if (!fs.ioctl) return this.enosys(h, rb);
          result = fs.ioctl(req, ctx);
          reply = (v) => {
            const r = v as { result: number; data?: Buffer };
            this.replyWith(h, (b, o) => {
              const n = encodeIoctlOut(b, o, { result: r.result, flags: 0, inIovs: 0, outIovs: 0 });
              return n + (r.data ? r.data.copy(b, o + n) : 0);
            });
          };
          break;
        case 'POLL':
          if (!fs.poll) return this.enosys(h, rb);
          result = fs.poll(req, ctx);
          reply = (v) => this.replyWith(h, (b, o) => encodePollOut(b, o, v as number));
          break;
        case 'FALLOCATE':
          if (!fs.fallocate) return this.enosys(h, rb);
          result = fs.fallocate(req, ctx);
          reply = () => this.replyEmpty(h);
          break;
        case 'LSEEK':
          if (!fs.lseek) return this.enosys(h, rb);
          result = fs.lseek(req, ctx);
          reply = (v) => this.replyWith(h, (b, o) => encodeLseekOut(b, o, v as number));
          break;
        case 'COPY_FILE_RANGE': {
          if (!fs.copyFileRange) return this.enosys(h, rb);
          const wide = req.wide;
          result = fs.copyFileRange(req, ctx);
          reply = (v) => this.replyWith(h, (b, o) => (wide ? encodeCopyFileRangeOut(b, o, v as number) : encodeWriteOut(b, o, Math.min(v as number, 0xffffffff))));
          break;
        }
        case 'SYNCFS':
          if (!fs.syncfs) return this.enosys(h, rb);
          result = fs.syncfs(req, ctx);
          reply = () => this.replyEmpty(h);
          break;
        case 'STATX':
          if (!fs.statx) return this.enosys(h, rb);
          result = fs.statx(req, ctx);
          reply = (v) => this.replyWith(h, (b, o) => encodeStatxOut(b, o, v as never));
          break;
        default:
          // SETUPMAPPING, REMOVEMAPPING (DAX) and opcodes this codec does not know.
          return this.enosys(h, rb);
      }
    } catch (err) {
      if (readBuf) this.releaseReplyBuffer(readBuf);
      this.finishError(h, req.op, err, rb);
      return;
    }
    const done = (v: unknown) => {
      if (v instanceof Errno) {
        if (readBuf) this.releaseReplyBuffer(readBuf);
        this.replyError(h, v.errno);
        this.complete(h, rb);
        return;
      }
      try {
        reply(v);
      } catch (err) {
        // A result of the wrong shape: the filesystem's bug, reported like a throw.
        this.finishError(h, req.op, err, undefined);
      }
      if (readBuf) this.releaseReplyBuffer(readBuf);
      this.complete(h, rb);
    };
    if (isPromise(result)) {
      // Only a request still running can be interrupted: synchronous ones never enter the table.
      this.pending.set(h.unique, ctx);
      result.then(done, (err) => {
        if (readBuf) this.releaseReplyBuffer(readBuf);
        this.finishError(h, req.op, err, rb);
      });
    } else {
      done(result);
    }
  }

  private releaseReplyBuffer(b: Buffer): void {
    if (b.length === this.channel.readBufferSize) this.channel.giveLargeBuffer(b);
  }

  private complete(h: InHeader, rb: RequestBuffer | undefined): void {
    if (this.pending.size > 0) this.pending.delete(h.unique);
    rb?.release();
  }

  private enosys(h: InHeader, rb: RequestBuffer): void {
    this.replyError(h, E.ENOSYS);
    this.complete(h, rb);
  }

  private finishError(h: InHeader, op: string, err: unknown, rb: RequestBuffer | undefined): void {
    let errno = errnoFromError(err);
    if (errno === undefined || errno <= 0 || errno > 511) {
      this.logOnce(op, err);
      errno = E.EIO;
    }
    this.replyError(h, errno);
    this.complete(h, rb);
  }

  // ---- replies ----

  private send(h: InHeader, buf: Buffer, len: number, error = 0): number {
    writeOutHeader(buf, len, -error, h.unique);
    const r = this.channel.write(buf, len);
    if (this.options.debug) this.options.debug(`< ${h.unique} ${error ? errnoName(error) : 'OK'} ${len - OUT_HEADER}B${r < 0 ? ` (write failed: ${errnoName(-r)})` : ''}`);
    return r;
  }

  private replyError(h: InHeader, errno: number): void {
    this.stats.countError(errnoName(errno));
    this.send(h, this.channel.replyScratch, OUT_HEADER, errno);
  }

  private replyEmpty(h: InHeader): void {
    this.send(h, this.channel.replyScratch, OUT_HEADER);
  }

  private replyWith(h: InHeader, encode: (buf: Buffer, off: number) => number): number {
    const buf = this.channel.replyScratch;
    const n = encode(buf, OUT_HEADER);
    return this.send(h, buf, OUT_HEADER + n);
  }

  private replyBytes(h: InHeader, data: Uint8Array): void {
    this.replyWith(h, (b, o) => {
      b.set(data, o);
      return data.length;
    });
  }

  /** GETXATTR/LISTXATTR: size 0 asks for the length; a value larger than `size` is ERANGE. */
  private replySized(h: InHeader, data: Buffer, size: number): void {
    if (size === 0) this.replyWith(h, (b, o) => encodeGetxattrOut(b, o, data.length));
    else if (data.length > size) this.replyError(h, E.ERANGE);
    else this.replyBytes(h, data);
  }

  private replyEntry(h: InHeader, e: EntryOut): void {
    const r = this.replyWith(h, (b, o) => encodeEntryOut(b, o, e));
    this.settleEntry(e.nodeid, r);
  }

  /** Count a delivered entry, or give its reference back if the kernel never got it. */
  private settleEntry(nodeid: NodeId, writeResult: number): void {
    if (nodeid === 0) return;
    if (writeResult === 0) this.addLookup(nodeid);
    else this.undoLookup(nodeid);
  }

  private undoLookup(nodeid: NodeId): void {
    try {
      this.fs.forget?.(nodeid, 1);
    } catch (err) {
      this.logOnce('forget', err);
    }
  }

  /** Final FOPEN flags and backing id of an open: the passthrough manager's decision when there is one. */
  private resolveOpen(nodeid: NodeId, requestFlags: number, o: OpenReply, regularFile: boolean) {
    if (this.passthrough && regularFile) return this.passthrough.resolveOpen(nodeid, o.fh as number, requestFlags, o);
    return { openFlags: (o.openFlags ?? 0) & ~Fopen.PASSTHROUGH, backingId: 0 };
  }

  private replyOpen(h: InHeader, requestFlags: number, o: OpenReply, regularFile: boolean): void {
    const r = this.resolveOpen(h.nodeid, requestFlags, o, regularFile);
    const w = this.replyWith(h, (b, off) => encodeOpenOut(b, off, { fh: o.fh as never, openFlags: r.openFlags, backingId: r.backingId }));
    if (w !== 0) this.undoOpen(h, h.nodeid, o.fh as number, regularFile);
  }

  private replyCreate(h: InHeader, requestFlags: number, c: CreateReply): void {
    const r = this.resolveOpen(c.entry.nodeid, requestFlags, c.open, true);
    const w = this.replyWith(h, (b, o) => {
      const n = encodeEntryOut(b, o, c.entry);
      return n + encodeOpenOut(b, o + n, { fh: c.open.fh as never, openFlags: r.openFlags, backingId: r.backingId });
    });
    this.settleEntry(c.entry.nodeid, w);
    if (w !== 0) this.undoOpen(h, c.entry.nodeid, c.open.fh as number, true);
  }

  /** An open whose reply never reached the kernel gets no RELEASE: release it here so nothing leaks. */
  private undoOpen(h: InHeader, nodeid: NodeId, fh: number, regularFile: boolean): void {
    if (regularFile) this.passthrough?.undoOpen(nodeid, fh);
    const release = { op: regularFile ? 'RELEASE' : 'RELEASEDIR', header: { ...h, nodeid }, fh, flags: 0, releaseFlags: 0, lockOwner: 0n } as const;
    const ctx = new Context(release.header);
    Promise.resolve()
      .then(() => (regularFile ? this.fs.release?.(release as never, ctx) : this.fs.releasedir?.(release as never, ctx)))
      .catch((err) => this.logOnce('release of an undelivered open', err));
  }

  passthroughStats(): PassthroughStats | undefined {
    return this.passthrough?.stats();
  }

  private replyRead(h: InHeader, buf: Buffer, dest: Buffer, v: number | Uint8Array): void {
    let n: number;
    if (typeof v === 'number') {
      n = Math.max(0, Math.min(v, dest.length));
    } else {
      n = Math.min(v.length, dest.length);
      if (!(v.buffer === dest.buffer && v.byteOffset === dest.byteOffset)) dest.set(v.subarray(0, n));
    }
    this.send(h, buf, OUT_HEADER + n);
  }

  private replyDir(h: InHeader, sink: DirSink): void {
    const r = this.send(h, sink.buf, sink.end);
    if (r === 0) for (const id of sink.referenced) this.addLookup(id);
    else for (const id of sink.referenced) this.undoLookup(id as NodeId);
  }

  // ---- notifications ----

  private readonly notifyBuf = Buffer.allocUnsafeSlow(64 * 1024);

  /** Unsolicited messages to the kernel; written at once, like replies. */
  readonly notifier: Notifier = {
    invalInode: (nodeid, offset = 0, length = 0) => this.channel.write(this.notifyBuf, encodeNotifyInvalInode(this.notifyBuf, nodeid, offset, length)),
    invalEntry: (parent, name) => {
      const bytes = typeof name === 'string' ? Buffer.from(name) : name;
      return this.channel.write(this.notifyBuf, encodeNotifyInvalEntry(this.notifyBuf, parent, bytes, 0));
    },
    prune: (nodeids) => {
      if ((this.info?.minor ?? 0) < 45) return -E.ENOSYS;
      // Batches that fit the buffer: 32 bytes of headers plus 8 per node.
      for (let i = 0; i < nodeids.length; i += 4096) {
        const r = this.channel.write(this.notifyBuf, encodeNotifyPrune(this.notifyBuf, nodeids.slice(i, i + 4096)));
        if (r < 0) return r;
      }
      return 0;
    },
  };

  // ---- logging ----

  private log(line: string): void {
    (this.options.log ?? ((l: string) => process.stderr.write(l + '\n')))(line);
  }

  /** One line per distinct cause, so a failing handler cannot flood the log. */
  private logOnce(where: string, err: unknown): void {
    const msg = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    const key = `${where}|${msg}`;
    if (this.loggedCauses.has(key)) return;
    if (this.loggedCauses.size < 1000) this.loggedCauses.add(key);
    const stack = err instanceof Error && err.stack ? ` (${err.stack.split('\n')[1]?.trim() ?? ''})` : '';
    this.log(`fusekit: ${where} failed, answering EIO: ${msg}${stack}`);
  }
}

/** READDIR/READDIRPLUS records written straight into the reply buffer. */
class DirSink implements DirentSink, DirentPlusSink {
  end: number;
  readonly referenced: number[] = [];
  constructor(readonly buf: Buffer, start: number, private readonly limit: number) {
    this.end = start;
  }
  fits(nameLength: number): boolean {
    return this.end + direntplusSize(nameLength) <= this.limit;
  }
  add(name: string | Buffer, inoOrEntry: number | EntryOut, typeOrOffset: number | bigint, nextOffset?: bigint): boolean {
    const bytes = typeof name === 'string' ? Buffer.from(name) : name;
    if (typeof inoOrEntry === 'number') {
      if (this.end + direntSize(bytes.length) > this.limit) return false;
      this.end += encodeDirent(this.buf, this.end, inoOrEntry, nextOffset!, typeOrOffset as number, bytes);
      return true;
    }
    if (this.end + direntplusSize(bytes.length) > this.limit) return false;
    const e = inoOrEntry;
    this.end += encodeDirentplus(this.buf, this.end, e, typeOrOffset as bigint, (e.attr.mode >>> 12) & 0xf, bytes);
    if (e.nodeid !== 0 && !isDotOrDotDot(bytes)) this.referenced.push(e.nodeid);
    return true;
  }
}

function joinNames(names: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [];
  for (const n of names) {
    parts.push(typeof n === 'string' ? Buffer.from(n) : n, Buffer.alloc(1));
  }
  return Buffer.concat(parts);
}

function describe(req: FuseRequest): string {
  const r = req as unknown as Record<string, unknown>;
  let s = '';
  if (typeof r.name === 'string') s += ` name=${JSON.stringify(r.name)}`;
  if (typeof r.newName === 'string') s += ` newdir=${r.newdir} newname=${JSON.stringify(r.newName)}`;
  if (r.fh !== undefined) s += ` fh=${r.fh}`;
  if (r.offset !== undefined) s += ` off=${r.offset}`;
  if (r.size !== undefined) s += ` size=${r.size}`;
  if (r.flags !== undefined && typeof r.flags === 'number') s += ` flags=0x${r.flags.toString(16)}`;
  if (r.valid !== undefined) s += ` valid=0x${(r.valid as number).toString(16)}`;
  return s;
}
