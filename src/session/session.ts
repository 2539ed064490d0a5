/**
 * The session: INIT negotiation, the life of each request (decode, dispatch
 * through the operation table, interrupts as AbortSignal, deadlines), lookup
 * counts, and the end of the connection. It knows what an opcode means, not
 * how a file is stored, and reaches the kernel only through its channel.
 *
 * A request's path: the channel reads it (transport/channel.ts), `onRequest`
 * decodes it (abi/decode.ts) and hands it to its row in the operation table
 * (operations.ts), whose method result the reply writer encodes (replies.ts).
 */
import { AbiError, decodeInHeader, decodeRequest, encodeInitOut, InitFlag, KERNEL_MINOR_VERSION, MAX_ERRNO, opcodeName, OUT_HEADER_SIZE } from '../abi/index.js';
import type { DecodeOptions, InHeader, InitOut, InitRequest, NodeId } from '../abi/index.js';
import { Errno, errnoFromError } from '../fs/errors.js';
import type { Filesystem, InitInfo, Notifier } from '../fs/filesystem.js';
import { stderrLogger } from '../fs/logger.js';
import { errnoName } from '../sys/errors.js';
import type { Logger } from '../fs/logger.js';
import { PassthroughManager } from '../passthrough/manager.js';
import type { PassthroughConfig, PassthroughStats } from '../passthrough/manager.js';
import { mayRegisterBackingFiles, NO_BACKING_PERMISSION, probeBackingPermission } from '../passthrough/probe.js';
import type { Channel, ChannelEnd, RequestBuffer } from '../transport/channel.js';
import { LookupLedger } from './lookups.js';
import { ChannelNotifier } from './notifier.js';
import { NOT_IMPLEMENTED, OPERATIONS } from './operations.js';
import type { DispatchedOp, Operation, RequestOf } from './operations.js';
import { Exchange, ReplyWriter } from './replies.js';
import { negotiateInit } from './negotiate.js';
import { SessionStats } from './stats.js';
import { constants as osConstants } from 'node:os';

const E = osConstants.errno;
const PAGE = 4096;

/** Default for `SessionOptions.requestDeadlineMs`. */
export const DEFAULT_REQUEST_DEADLINE_MS = 60_000;
/** Distinct causes of failure logged at most; past them one line says that later ones go unlogged. */
const MAX_LOGGED_CAUSES = 1000;
/** Default for `SessionOptions.slowRequestMs`. */
export const DEFAULT_SLOW_REQUEST_MS = 10_000;

/** A session's options: what it asks for at INIT, passthrough, logging, and request deadlines. */
export interface SessionOptions {
  /**
   * Largest WRITE the kernel may send (default 1 MiB; the channel's read
   * buffers must match). `mount()` takes at least 4096 and lowers it to what
   * the kernel can send (max_pages_limit pages: 1 MiB unless raised), which
   * `InitInfo.maxWrite` then reports.
   */
  maxWrite?: number;
  /** Upper bound for the kernel's readahead; default: what the kernel offers. */
  maxReadahead?: number;
  /** Outstanding background requests (readahead, async direct I/O); default 64. */
  maxBackground?: number;
  /** INIT capabilities to ask for beyond the defaults (`InitFlag` bits). */
  wantFlags?: bigint;
  /** INIT capabilities never to enable, even if wanted. */
  refuseFlags?: bigint;
  /** Kernel passthrough (Linux 6.9+): on when given, with the policy for which opens use it. */
  passthrough?: PassthroughConfig;
  /** Where warnings (and, if it has `debug`, one line per request and reply) go. Default: stderr. */
  logger?: Logger;
  /**
   * fusekit's own deadline for a handler, in milliseconds (default 60,000; 0 =
   * none). A request still unanswered after it is answered ETIMEDOUT, its
   * `ctx.signal` aborts, and the handler's late answer is dropped (an entry
   * or open it carried is given back), so the caller is freed and the mount
   * keeps serving. A `read(2)` whose READ never settles fails after twice
   * the deadline: the kernel's readahead READ fails first, then it asks again
   * for the page its caller wants. A blocking lock wait (SETLKW) has no
   * deadline: waiting is its job, and the caller's signals still interrupt
   * it. A handler that blocks the event loop itself cannot be reached by this
   * deadline: that is what `kernelRequestTimeout` is for.
   */
  requestDeadlineMs?: number;
  /**
   * The kernel's own limit, in whole seconds (protocol 7.43+, REQUEST_TIMEOUT;
   * default 0 = none; at most 65535): if any request stays unanswered that
   * long, the kernel aborts the whole connection (every caller gets ENOTCONN
   * from then on until the mount is unmounted, and `ended` resolves with
   * `aborted`). The kernel looks only every 15 s or so, so the abort can come
   * well after the limit (15-30 s after a request with a limit of 1 s,
   * measured on Linux 6.18). The last resort for a server that can hang as a whole;
   * ignored by kernels that do not offer it.
   */
  kernelRequestTimeout?: number;
  /** A request in flight longer than this (ms) is logged once, with its opcode and node (default 10,000; 0 = never). */
  slowRequestMs?: number;
}

function isPromise<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

/**
 * One FUSE connection, served: INIT negotiation, each request decoded and
 * handed to the filesystem, interrupts, deadlines, lookup counts, and the end
 * of the connection. `mount()` makes and starts one; make one directly to
 * serve a channel of your own (tests serve an in-memory one).
 */
export class Session {
  /** Counters for the stats file and tests. */
  readonly stats = new SessionStats();
  /** Resolves once INIT has been answered. */
  readonly ready: Promise<InitInfo>;
  /** Resolves when the connection is gone (unmount, abort, or close). */
  readonly ended: Promise<ChannelEnd>;
  /** What INIT negotiated; undefined before. */
  info: InitInfo | undefined;
  /** Present when the session was asked to use passthrough (whatever the kernel then allowed). */
  readonly passthrough: PassthroughManager | undefined;
  /** Unsolicited messages to the kernel; the same object `init` receives. */
  get notifier(): Notifier {
    return this.channelNotifier;
  }
  private readonly channelNotifier: ChannelNotifier;

  private readonly maxWrite: number;
  private readonly logger: Logger;
  private readonly lookups: LookupLedger;
  private readonly out: ReplyWriter;
  private decodeOptions: DecodeOptions = { minor: KERNEL_MINOR_VERSION, setxattrExt: false };
  private initialized = false;
  /** What INIT settled, from before the filesystem's `init` runs (notifications sent there need it). */
  private negotiated: InitInfo | undefined;
  private destroyed = false;
  /** Requests whose handler is still running (asynchronously), by unique: where INTERRUPT and the deadline find them. */
  private readonly pending = new Map<bigint, Exchange>();
  private sweeper: NodeJS.Timeout | undefined;
  private readonly deadlineMs: number;
  private readonly slowMs: number;
  private readonly loggedCauses = new Set<string>();
  /** MAX_LOGGED_CAUSES was reached and said so. */
  private causesOverflowed = false;
  private endResolve!: (end: ChannelEnd) => void;
  private readyResolve!: (info: InitInfo) => void;
  private readyReject!: (err: Error) => void;
  /**
   * The filesystem's `init()` has been called and has not settled: INIT
   * waits on the filesystem, not on the kernel. @internal
   */
  initInFilesystem = false;

  /**
   * @param fs the filesystem that answers the requests
   * @param channel the connection to the kernel; its read buffers must hold `maxWrite` plus one page
   * @param options negotiation wishes, passthrough, logging and deadlines
   */
  constructor(readonly fs: Filesystem, readonly channel: Channel, readonly options: SessionOptions = {}) {
    this.maxWrite = options.maxWrite ?? 1 << 20;
    if (channel.readBufferSize < this.maxWrite + PAGE) {
      throw new RangeError(`channel read buffers (${channel.readBufferSize}) are smaller than maxWrite + 4096`);
    }
    this.logger = options.logger ?? stderrLogger;
    this.deadlineMs = options.requestDeadlineMs ?? DEFAULT_REQUEST_DEADLINE_MS;
    this.slowMs = options.slowRequestMs ?? DEFAULT_SLOW_REQUEST_MS;
    this.ended = new Promise((resolve) => {
      this.endResolve = resolve;
    });
    this.passthrough = options.passthrough ? new PassthroughManager(channel, options.passthrough, (l) => this.logger.warn(l)) : undefined;
    this.lookups = new LookupLedger(
      (nodeid, n) => this.forgetInFilesystem(nodeid, n),
      (message) => this.logOnce('forget', new Error(message)),
    );
    this.out = new ReplyWriter({
      channel,
      maxWrite: this.maxWrite,
      stats: this.stats,
      lookups: this.lookups,
      fs,
      passthrough: this.passthrough,
      debug: this.logger.debug?.bind(this.logger),
      logOnce: (where, err) => this.logOnce(where, err),
    });
    this.channelNotifier = new ChannelNotifier(channel, { minor: () => this.negotiated?.minor ?? 0, enabled: () => this.negotiated?.enabled ?? 0n });
    this.ready = new Promise((resolve, reject) => {
      this.readyResolve = resolve;
      this.readyReject = reject;
    });
    // Nobody need be waiting for INIT; a failure is also logged.
    this.ready.catch(() => undefined);
  }

  /** Starts serving the channel's requests. */
  start(): void {
    this.channel.start({
      request: (rb) => this.onRequest(rb),
      end: (end) => void this.onEnd(end),
      idle: (busy) => this.idleWork(busy),
      fault: (where, err) => this.logOnce(where, err),
    });
  }

  /** Lookup references the kernel holds on `nodeid` (0 once forgotten). The root is never counted. */
  lookupCount(nodeid: number): number {
    return this.lookups.count(nodeid);
  }

  /** Node ids the kernel holds at least one lookup reference to. */
  get knownNodes(): number {
    return this.lookups.size;
  }

  /** Requests whose handler is still running. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** The passthrough counters (opens by mode, fallbacks by reason, backing ids open); undefined without passthrough. */
  passthroughStats(): PassthroughStats | undefined {
    return this.passthrough?.stats();
  }

  /** One piece of deferred work between requests (backing ids to close, then the filesystem's own); false when none is left. */
  private idleWork(busy: boolean): boolean {
    if (this.passthrough?.closeOnePending()) return true;
    return this.fs.idle?.(busy) ?? false;
  }

  private async onEnd(end: ChannelEnd): Promise<void> {
    this.stopSweeper();
    this.channelNotifier.close();
    this.passthrough?.shutdown();
    if (!this.destroyed) {
      this.destroyed = true;
      await this.destroyWithin();
    }
    this.endResolve(end);
  }

  /**
   * The filesystem's `destroy`, waited for no longer than the request deadline:
   * one that never settles must not keep the unmount from completing.
   */
  private async destroyWithin(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const destroyed = Promise.resolve().then(() => this.fs.destroy?.());
      if (this.deadlineMs <= 0) {
        await destroyed;
        return;
      }
      const late = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), this.deadlineMs);
      });
      if ((await Promise.race([destroyed, late])) === 'late') {
        this.warnOnce('destroy|deadline', `fusekit: the filesystem's destroy() did not settle within ${this.deadlineMs} ms; the session ends without waiting for it`);
        // Its failure, should it come, is still worth a line.
        destroyed.catch((err: unknown) => this.logOnce('destroy', err));
      }
    } catch (err) {
      this.logOnce('destroy', err);
    } finally {
      if (timer) clearTimeout(timer);
    }
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
    const x = new Exchange(header, opName, rb);
    let req;
    try {
      req = decodeRequest(rb.buf, rb.len, this.decodeOptions, header);
    } catch (err) {
      this.logOnce(`decode ${opName}`, err);
      this.out.error(x, err instanceof AbiError ? err.errno : E.EIO);
      rb.release();
      return;
    }
    this.logger.debug?.(`> ${header.unique} ${opName} node=${header.nodeid} uid=${header.uid} pid=${header.pid}${describe(req)}`);

    switch (req.op) {
      case 'INIT':
        void this.handleInit(req, x).finally(() => rb.release());
        return;
      // A forgotten inode may be a file unlinked while open, whose last RELEASE
      // (answered just before) left its backing id to be closed when idle: the
      // id keeps the file open, and its space must be back before the next
      // request. (Backing ids waiting are few; usually none.)
      case 'FORGET':
        this.passthrough?.closePendingNow();
        this.lookups.forget(header.nodeid, req.nlookup);
        rb.release();
        return;
      case 'BATCH_FORGET':
        this.passthrough?.closePendingNow();
        for (const f of req.forgets) this.lookups.forget(f.nodeid, f.nlookup);
        rb.release();
        return;
      case 'INTERRUPT':
        // Interrupts for requests already answered are simply dropped.
        this.pending.get(req.target)?.abort('interrupted by the kernel');
        rb.release();
        return;
      case 'DESTROY':
        this.destroyed = true;
        void Promise.resolve()
          .then(() => this.fs.destroy?.())
          .catch((err) => this.logOnce('destroy', err))
          .finally(() => {
            this.out.empty(x);
            rb.release();
          });
        return;
      case 'NOTIFY_REPLY':
        // The kernel's answer to a retrieve: no reply is expected.
        if (!this.channelNotifier.onReply(header.unique, req.data)) this.logger.debug?.(`fusekit: NOTIFY_REPLY ${header.unique} matches no retrieve waiting`);
        rb.release();
        return;
      case 'SETUPMAPPING':
      case 'REMOVEMAPPING':
      case 'UNKNOWN':
        // DAX mappings, and opcodes this codec does not know.
        this.out.error(x, E.ENOSYS);
        rb.release();
        return;
    }
    if (!this.initialized) {
      this.out.error(x, E.EIO);
      rb.release();
      return;
    }
    if (req.op === 'SETLK' && req.sleep) x.waitsForLock = true;
    else if (req.op === 'UNLINK' || req.op === 'RENAME') this.passthrough?.closePendingNow();
    this.dispatch(req.op, req, x);
  }

  // ---- INIT ----

  private async handleInit(req: InitRequest, x: Exchange): Promise<void> {
    let want = (this.options.wantFlags ?? 0n) | (this.fs.initFlags ?? 0n);
    if (this.fs.readdirplus) want |= InitFlag.DO_READDIRPLUS | (this.fs.readdirplusAlways ? 0n : InitFlag.READDIRPLUS_AUTO);
    // Announcements of notifications the kernel understands; taking them changes nothing else.
    want |= InitFlag.HAS_EXPIRE_ONLY | InitFlag.HAS_RESEND;
    if (this.fs.getlk && this.fs.setlk) want |= InitFlag.POSIX_LOCKS;
    const pt = this.passthrough;
    if (pt?.wanted && pt.active && !mayRegisterBackingFiles()) {
      // Asking for the flag would gain nothing: every backing file would be refused.
      if (pt.policy === 'always') {
        this.out.error(x, E.EPERM);
        this.readyReject(new Error(`passthrough is required (policy always) but ${NO_BACKING_PERMISSION}`));
        return;
      }
      pt.disable('no-permission', NO_BACKING_PERMISSION);
    }
    if (pt?.wanted && pt.active) want |= InitFlag.PASSTHROUGH;
    const n = negotiateInit(req.init, {
      want,
      // Without `open` (answered ENOSYS, after which the kernel sends no OPEN)
      // ATOMIC_O_TRUNC would leave an O_TRUNC open to nobody: the kernel
      // then sends the truncate as a SETATTR instead.
      refuse: (this.options.refuseFlags ?? 0n) | (this.fs.open ? 0n : InitFlag.ATOMIC_O_TRUNC),
      maxWrite: this.maxWrite,
      maxReadahead: this.options.maxReadahead,
      maxBackground: this.options.maxBackground ?? 64,
      maxStackDepth: this.options.passthrough?.maxStackDepth ?? 1,
      requestTimeout: this.options.kernelRequestTimeout,
    });
    if (n.kind === 'retry') {
      this.writeInit(x, n.reply, n.replySize);
      return;
    }
    if (n.kind === 'refuse') {
      this.logger.warn(`fusekit: ${n.reason}`);
      this.out.error(x, E.EPROTO);
      this.readyReject(new Error(n.reason));
      return;
    }
    if (pt?.wanted && pt.active && (n.enabled & InitFlag.PASSTHROUGH) === 0n) {
      const offered = (req.init.flags & InitFlag.PASSTHROUGH) !== 0n;
      const why = offered ? 'passthrough conflicts with a requested capability' : 'the kernel does not offer passthrough (it needs Linux 6.9+ built with FUSE passthrough)';
      if (pt.policy === 'always') {
        this.out.error(x, E.EOPNOTSUPP);
        this.readyReject(new Error(`passthrough is required (policy always) but ${why}`));
        return;
      }
      pt.disable('kernel-without-passthrough', why);
    }
    const info: InitInfo = { minor: n.minor, offered: req.init.flags, enabled: n.enabled, maxWrite: this.maxWrite, maxReadahead: n.reply.maxReadahead };
    this.decodeOptions = { minor: n.minor, setxattrExt: (n.enabled & InitFlag.SETXATTR_EXT) !== 0n };
    this.negotiated = info;
    this.initInFilesystem = true;
    try {
      await this.fs.init?.(info, this.notifier);
    } catch (err) {
      const errno = carriedErrno(err) ?? E.EIO;
      this.logOnce('init', err, errnoName(errno));
      this.out.error(x, errno);
      const failed = new Error(`the filesystem's init failed: ${describeThrown(err).message}`) as Error & { code?: string };
      failed.code = errnoName(errno);
      this.readyReject(failed);
      return;
    } finally {
      this.initInFilesystem = false;
    }
    this.info = info;
    this.initialized = true;
    this.writeInit(x, n.reply);
    if (pt?.active) {
      const failure = probeBackingPermission(this.channel);
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

  private writeInit(x: Exchange, reply: InitOut, forceLen?: number): void {
    const buf = this.channel.replyScratch;
    const len = encodeInitOut(buf, OUT_HEADER_SIZE, reply);
    this.out.send(x, buf, OUT_HEADER_SIZE + (forceLen ?? len));
  }

  // ---- dispatch ----

  /**
   * Runs one request through its table row. Generic in the opcode so that the
   * row's request type, its method's result and its encoder stay tied together.
   */
  private dispatch<O extends DispatchedOp>(op: O, req: RequestOf[O], x: Exchange): void {
    const row = OPERATIONS[op];
    let result;
    try {
      result = row.call(this.fs, req, x, this.out);
    } catch (err) {
      this.fail(x, err);
      return;
    }
    if (result === NOT_IMPLEMENTED) {
      this.out.error(x, E.ENOSYS);
      this.complete(x);
      return;
    }
    // This request and those still running (a synchronous one is in flight while its handler runs).
    this.stats.observeInFlight(this.pending.size + 1);
    if (isPromise(result)) {
      // Only a request still running can be interrupted or time out: synchronous ones never enter the table.
      this.pending.set(x.header.unique, x);
      if (this.pending.size === 1) this.startSweeper();
      result.then(
        (v) => this.settle(row, req, x, v),
        (err) => this.fail(x, err),
      );
    } else {
      this.settle(row, req, x, result);
    }
  }

  private settle<Q, T>(row: Operation<Q, T>, req: Q, x: Exchange, v: T | Errno): void {
    if (x.answered) {
      // Past its deadline and already answered: the kernel has forgotten it, so undo what it granted.
      if (!(v instanceof Errno)) {
        try {
          row.discard?.(this.out, x, req, v);
        } catch (err) {
          this.logOnce(`${x.op} answered after its deadline`, err);
        }
      }
      this.complete(x);
      return;
    }
    if (v instanceof Errno) {
      this.out.error(x, v.errno);
    } else {
      try {
        row.reply(this.out, x, req, v);
      } catch (err) {
        // A result of the wrong shape (the filesystem's bug), or an open refused on the way out: answered like a throw.
        this.replyFailure(x, err);
      }
    }
    this.complete(x);
  }

  private fail(x: Exchange, err: unknown): void {
    if (!x.answered) this.replyFailure(x, err);
    this.complete(x);
  }

  /**
   * Answers a thrown value: its errno if it carries one, else EIO with one log
   * line per cause. The answer goes out first: nothing about the value (a
   * getter that throws, an object that cannot become a string) may keep the
   * caller waiting.
   */
  private replyFailure(x: Exchange, err: unknown): void {
    const errno = carriedErrno(err);
    this.out.error(x, errno ?? E.EIO);
    if (errno === undefined) this.logOnce(x.op, err);
  }

  /** The handler is done with the request: its buffers go back to the pool. */
  private complete(x: Exchange): void {
    x.answered = true;
    if (this.pending.size > 0 && this.pending.get(x.header.unique) === x) this.pending.delete(x.header.unique);
    this.out.releaseReplyBuffer(x);
    x.buffer?.release();
  }

  // ---- deadlines ----

  private startSweeper(): void {
    if (this.sweeper || (this.deadlineMs <= 0 && this.slowMs <= 0)) return;
    const limits = [this.deadlineMs, this.slowMs].filter((ms) => ms > 0);
    const period = Math.min(1000, Math.max(10, Math.min(...limits) / 4));
    this.sweeper = setInterval(() => this.sweep(), period);
    // A mount keeps the process alive through its device watch, not through this timer.
    this.sweeper.unref();
  }

  private stopSweeper(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  /** Logs requests in flight for long (once each) and answers those past their deadline. */
  private sweep(): void {
    if (this.pending.size === 0) {
      this.stopSweeper();
      return;
    }
    const now = performance.now();
    for (const x of this.pending.values()) {
      const age = now - x.startedAt;
      if (this.slowMs > 0 && age >= this.slowMs && !x.reportedSlow) {
        x.reportedSlow = true;
        this.logger.warn(`fusekit: ${x.op} on node ${x.header.nodeid} (request ${x.header.unique}) unanswered after ${Math.round(age)} ms`);
      }
      if (this.deadlineMs > 0 && age >= this.deadlineMs && !x.answered && !x.waitsForLock) {
        this.expire(x);
      }
    }
  }

  /** Answers a request whose handler missed the deadline; the handler's own answer is dropped when it comes. */
  private expire(x: Exchange): void {
    x.answered = true;
    this.pending.delete(x.header.unique);
    this.stats.countExpired();
    this.warnOnce(`deadline|${x.op}`, `fusekit: ${x.op} on node ${x.header.nodeid} (request ${x.header.unique}) not answered within ${this.deadlineMs} ms: answered ETIMEDOUT, its signal aborted, its late answer will be dropped`);
    x.abort(`no answer within ${this.deadlineMs} ms`);
    this.out.error(x, E.ETIMEDOUT);
  }

  // ---- lookups ----

  private forgetInFilesystem(nodeid: NodeId, nlookup: number): void {
    try {
      this.fs.forget?.(nodeid, nlookup);
    } catch (err) {
      this.logOnce('forget', err);
    }
  }

  // ---- logging ----

  /** One line per distinct cause, so a failing handler cannot flood the log. */
  private logOnce(where: string, err: unknown, answered = 'EIO'): void {
    const { message, at } = describeThrown(err);
    this.warnOnce(`${where}|${message}`, `fusekit: ${where} failed, answering ${answered}: ${message}${at ? ` (${at})` : ''}`);
  }

  /**
   * Logs `line` unless `key` was logged before. Past MAX_LOGGED_CAUSES keys,
   * one last line says so and nothing new is logged: the stats file still
   * counts every error. A logger that throws loses its line, not the request.
   */
  private warnOnce(key: string, line: string): void {
    if (this.loggedCauses.has(key)) return;
    if (this.loggedCauses.size >= MAX_LOGGED_CAUSES) {
      if (this.causesOverflowed) return;
      this.causesOverflowed = true;
      line = `fusekit: ${MAX_LOGGED_CAUSES} distinct failures logged; later new ones are not (the stats file counts every error)`;
    } else {
      this.loggedCauses.add(key);
    }
    try {
      this.logger.warn(line);
    } catch {
      // Nowhere left to say it.
    }
  }
}

/** The errno a thrown value carries (a FuseError, an Errno, a Node system error), if a valid one; never throws. */
function carriedErrno(err: unknown): number | undefined {
  let errno: number | undefined;
  try {
    errno = errnoFromError(err);
  } catch {
    return undefined;
  }
  return errno !== undefined && errno > 0 && errno <= MAX_ERRNO ? errno : undefined;
}

/**
 * A thrown value as text: its name and message, and the first frame of its
 * stack. Never throws, whatever was thrown (an object without a prototype, a
 * `toString` that throws, a stack that is not a string).
 */
function describeThrown(err: unknown): { message: string; at: string } {
  let message: string;
  try {
    message = err instanceof Error ? `${String(err.name)}: ${String(err.message)}` : String(err);
  } catch {
    message = `a thrown ${typeof err} that cannot be shown as text`;
  }
  let at = '';
  try {
    const stack: unknown = err instanceof Error ? err.stack : undefined;
    if (typeof stack === 'string') at = stack.split('\n')[1]?.trim() ?? '';
  } catch {
    at = '';
  }
  return { message, at };
}

/** The request's interesting fields, for debug lines. */
function describe(req: { op: string }): string {
  const r = req as { op: string } & Partial<Record<'name' | 'newName' | 'newdir' | 'fh' | 'offset' | 'size' | 'flags' | 'valid', unknown>>;
  let s = '';
  if (typeof r.name === 'string') s += ` name=${JSON.stringify(r.name)}`;
  if (typeof r.newName === 'string') s += ` newdir=${String(r.newdir)} newname=${JSON.stringify(r.newName)}`;
  if (r.fh !== undefined) s += ` fh=${String(r.fh)}`;
  if (r.offset !== undefined) s += ` off=${String(r.offset)}`;
  if (r.size !== undefined) s += ` size=${String(r.size)}`;
  if (typeof r.flags === 'number') s += ` flags=0x${r.flags.toString(16)}`;
  if (typeof r.valid === 'number') s += ` valid=0x${r.valid.toString(16)}`;
  return s;
}
