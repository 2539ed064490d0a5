/**
 * The channel: one /dev/fuse descriptor, read without blocking the event loop
 * and without holding a libuv pool thread, and replies written synchronously
 * (the kernel copies a reply at once, so a write never waits).
 *
 * Reading: the descriptor is non-blocking and the event loop's own epoll
 * watches it (a libuv poll handle), so a request wakes the serving thread
 * directly; the thread then drains the device until EAGAIN.
 * Each request is handed to the session in a buffer that stays valid until the
 * session releases it, so handlers may run asynchronously. Large requests
 * (WRITE payloads) keep their full-size read buffer; small ones are copied into
 * a small pooled buffer so the big buffers return to the pool at once. Buffers
 * are pooled and reused, never allocated per request.
 */
import { constants as osConstants } from 'node:os';
import { open, tryRead, tryWrite, writeOnPool, tryClose, fuseBackingOpen, fuseBackingClose, watchReadable } from '../sys/index.js';
import type { ReadableWatch } from '../sys/index.js';
import { O_RDWR, O_CLOEXEC, O_NONBLOCK } from '../sys/constants.js';

const E = osConstants.errno;

/** A request as read from the device. Call `release()` once the request's bytes are no longer needed. */
export interface RequestBuffer {
  /** The buffer the request was read into, from offset 0. */
  buf: Buffer;
  /** Length of the request in `buf`, in bytes. */
  len: number;
  /** Gives the buffer back to the channel's pool; its bytes may be overwritten from then on. */
  release(): void;
}

/** Why a channel stopped delivering requests. */
export type ChannelEnd =
  | {
      /** The device read failed with ENODEV: the filesystem was unmounted, or aborted without ABORT_ERROR negotiated. */
      reason: 'unmounted';
    }
  | {
      /** The device read failed with ECONNABORTED: the connection was aborted, with ABORT_ERROR negotiated. */
      reason: 'aborted';
    }
  | {
      /** The channel's owner closed it. */
      reason: 'closed';
    }
  | {
      /** Reading the device failed in another way. */
      reason: 'error';
      /** What failed. */
      error: Error;
    };

/** What a channel calls back into: the session. */
export interface ChannelHandlers {
  /** Each request, on the main thread, in kernel order. Call `release()` on the buffer when done with it. */
  request(req: RequestBuffer): void;
  /** The connection is gone; called once. */
  end(end: ChannelEnd): void;
  /** While waiting for the next request (or, `busy`, between back-to-back ones): one small piece of deferred work, false when none is left. */
  idle?(busy: boolean): boolean;
  /** A callback above threw where nothing else could catch it (a bug); the channel keeps serving. */
  fault(where: string, err: unknown): void;
}

/**
 * What a session needs of its connection to the kernel: requests in, replies
 * out, pooled buffers for replies that outlive one tick, and the passthrough
 * ioctls. `FuseChannel` is the real device; an in-memory channel serves tests
 * that need no mount.
 */
export interface Channel {
  /** Size of every request buffer (max_write plus one page; the kernel refuses smaller reads). */
  readonly readBufferSize: number;
  /** Scratch space for a reply encoded and written within one call. */
  readonly replyScratch: Buffer;
  /** A full-size buffer for a reply that must outlive the current tick (READ data); undefined when none is free. */
  takeLargeBuffer(): Buffer | undefined;
  /** Returns a buffer from `takeLargeBuffer` once its reply is written. */
  giveLargeBuffer(b: Buffer): void;
  /** Starts delivering requests. */
  start(handlers: ChannelHandlers): void;
  /** Writes one reply or notification. Returns 0 or a negative errno (ENOENT: the request is gone, e.g. interrupted). */
  write(buf: Buffer, len: number): number;
  /**
   * Writes one notification from a thread other than the serving one, so that
   * a notification the kernel makes wait (for a lock held by a request this
   * thread has yet to answer) cannot stop the serving. Resolves to 0 or a
   * negative errno. Missing: the notifier writes at once instead.
   */
  writeOffThread?(buf: Buffer, len: number): Promise<number>;
  /** FUSE_DEV_IOC_BACKING_OPEN: registers a passthrough backing file and returns its id; throws SysError. */
  backingOpen(fd: number): number;
  /** FUSE_DEV_IOC_BACKING_CLOSE. */
  backingClose(id: number): void;
}

/** How a `FuseChannel` sizes its buffers. */
export interface ChannelOptions {
  /** Largest WRITE payload that will be negotiated; read buffers are this plus one page. */
  maxWrite: number;
  /** Upper bound of full-size read buffers held by requests in flight (backpressure beyond). */
  maxLargeBuffers?: number;
}

/** Requests up to this size are copied out of the big read buffer. */
const SMALL_REQUEST = 8192;
/** Requests handled per drain before yielding to the event loop. */
const DRAIN_BATCH = 128;
/**
 * After answering, keep reading for this long before going back to the event
 * loop: a client's next request usually follows its reply within tens of
 * microseconds, and catching it here saves waking this thread (on a VM, a
 * halted virtual CPU) for it.
 */
const SPIN_MS = 0.05;
/**
 * Requests read back to back, the device never running dry, after which the
 * deferred work is done between requests anyway, two pieces after each: a
 * client that sends its next request as soon as it has the reply (or several
 * clients at once) may keep the device from ever running dry, and the work
 * waiting (descriptors to close) would grow with every request until the
 * descriptor limit.
 */
const BUSY_STREAK = 4;
const PIECES_WHEN_BUSY = 2;

class BufferPool {
  private readonly free: Buffer[] = [];
  private created = 0;
  constructor(readonly size: number, readonly max: number) {}
  take(): Buffer | undefined {
    const b = this.free.pop();
    if (b) return b;
    if (this.created >= this.max) return undefined;
    this.created++;
    return Buffer.allocUnsafeSlow(this.size);
  }
  give(b: Buffer): void {
    this.free.push(b);
  }
}

/** The /dev/fuse device as a Channel. */
export class FuseChannel implements Channel {
  private readonly large: BufferPool;
  private readonly small: BufferPool;
  private watch: ReadableWatch | undefined;
  private keepAlive = true;
  private handlers: ChannelHandlers | undefined;
  private draining = false;
  private stalled = false;
  private ended = false;
  /** Reply scratch space for replies encoded and written synchronously. */
  readonly replyScratch: Buffer;

  /**
   * @param fd the /dev/fuse descriptor, non-blocking; the channel owns it
   * @param options buffer sizes
   */
  private constructor(readonly fd: number, readonly options: ChannelOptions) {
    const readSize = options.maxWrite + 4096;
    this.large = new BufferPool(readSize, options.maxLargeBuffers ?? 256);
    this.small = new BufferPool(SMALL_REQUEST, 1 << 20);
    this.replyScratch = Buffer.allocUnsafeSlow(readSize);
  }

  /** Opens /dev/fuse (non-blocking). Throws a SysError (ENOENT, EACCES…) when it cannot. */
  static open(options: ChannelOptions, devicePath = '/dev/fuse'): FuseChannel {
    const fd = open(devicePath, O_RDWR | O_CLOEXEC | O_NONBLOCK, 0);
    return new FuseChannel(fd, options);
  }

  /**
   * A channel on a /dev/fuse descriptor opened elsewhere (by fusermount3). It
   * must already be non-blocking; the channel owns and closes it.
   */
  static fromDescriptor(fd: number, options: ChannelOptions): FuseChannel {
    return new FuseChannel(fd, options);
  }

  /** Size every device read must offer (the kernel refuses smaller reads with EINVAL). */
  get readBufferSize(): number {
    return this.large.size;
  }

  /** A full-size buffer for a reply that must outlive the current tick (READ data). Undefined when the pool is exhausted. */
  takeLargeBuffer(): Buffer | undefined {
    return this.large.take();
  }

  /** Returns a buffer from `takeLargeBuffer`; reading resumes if it had stopped for want of one. */
  giveLargeBuffer(b: Buffer): void {
    this.large.give(b);
    if (this.stalled) {
      this.stalled = false;
      this.watch?.resume();
      setImmediate(() => this.drain());
    }
  }

  /** Starts reading: the event loop's epoll wakes the main thread when a request is queued. */
  start(handlers: ChannelHandlers): void {
    this.handlers = handlers;
    try {
      this.watch = watchReadable(this.fd, () => this.drain());
      if (!this.keepAlive) this.watch.keepAlive(false);
    } catch (err) {
      this.finish({ reason: 'error', error: new Error(`cannot watch /dev/fuse: ${(err as Error).message}`) });
      return;
    }
    // Read whatever is already queued (INIT usually is).
    setImmediate(() => this.drain());
  }

  /**
   * Whether waiting for requests keeps the process alive (it does from the
   * start). Off, the event loop may end while the connection is still up.
   */
  keepProcessAlive(keep: boolean): void {
    this.keepAlive = keep;
    this.watch?.keepAlive(keep);
  }

  /** Writes one reply or notification. Returns 0 or a negative errno (ENOENT: the request is gone, e.g. interrupted). */
  write(buf: Buffer, len: number): number {
    if (this.ended) return -E.ENODEV;
    return Math.min(tryWrite(this.fd, buf, 0, len), 0);
  }

  /** Writes one notification on a libuv pool thread (see `Channel.writeOffThread`); `buf` must stay untouched until it settles. */
  async writeOffThread(buf: Buffer, len: number): Promise<number> {
    if (this.ended) return -E.ENODEV;
    return Math.min(await writeOnPool(this.fd, buf, len), 0);
  }

  /**
   * Registers a passthrough backing file (FUSE_DEV_IOC_BACKING_OPEN) and returns its id.
   * Throws SysError: EPERM (passthrough not negotiated, or no CAP_SYS_ADMIN), ELOOP (backing
   * file's filesystem too deep in the stack), EISDIR/EINVAL (not a regular file).
   */
  backingOpen(fd: number): number {
    return fuseBackingOpen(this.fd, fd);
  }

  /** Drops a backing id (FUSE_DEV_IOC_BACKING_CLOSE); files already open on it keep working. */
  backingClose(id: number): void {
    fuseBackingClose(this.fd, id);
  }

  private drain(): void {
    if (this.ended || this.draining) return;
    this.draining = true;
    try {
      let delivered = 0;
      let spinUntil = 0;
      let streak = 0;
      while (delivered < DRAIN_BATCH) {
        const big = this.large.take();
        if (!big) {
          // Every full-size buffer is held by a request in flight: let them finish
          // first (the watch would otherwise call back on every loop turn).
          this.stalled = true;
          this.watch?.pause();
          return;
        }
        const n = tryRead(this.fd, big, 0, big.length);
        if (n < 0) {
          this.large.give(big);
          if (n === -E.EAGAIN) {
            if (delivered > 0) {
              const now = performance.now();
              spinUntil ||= now + SPIN_MS;
              if (now < spinUntil) {
                // The client is being woken with our reply: meanwhile, deferred work.
                this.idleWork(1, false);
                streak = 0;
                continue;
              }
            }
            // About to sleep: finish the deferred work first.
            this.idleWork(Infinity, false);
            // The event loop's watch calls back when the next request arrives.
            return;
          }
          if (n === -E.EINTR || n === -E.ENOENT) continue;
          if (n === -E.ENODEV) return this.finish({ reason: 'unmounted' });
          if (n === -E.ECONNABORTED) return this.finish({ reason: 'aborted' });
          return this.finish({ reason: 'error', error: new Error(`read /dev/fuse failed with errno ${-n}`) });
        }
        this.deliver(big, n);
        delivered++;
        spinUntil = 0;
        if (++streak >= BUSY_STREAK) this.idleWork(PIECES_WHEN_BUSY, true);
      }
      // Yield so handler continuations and timers run, then keep draining.
      setImmediate(() => this.drain());
    } finally {
      this.draining = false;
    }
  }

  /** Up to `pieces` pieces of the handlers' deferred work (fewer when none is left). */
  private idleWork(pieces: number, busy: boolean): void {
    const h = this.handlers;
    if (!h?.idle) return;
    try {
      while (pieces-- > 0 && h.idle(busy));
    } catch (err) {
      h.fault('idle work', err);
    }
  }

  private deliver(big: Buffer, n: number): void {
    let req: RequestBuffer;
    const small = n <= SMALL_REQUEST ? this.small.take() : undefined;
    if (small) {
      big.copy(small, 0, 0, n);
      this.large.give(big);
      let released = false;
      req = { buf: small, len: n, release: () => { if (!released) { released = true; this.small.give(small); } } };
    } else {
      let released = false;
      req = { buf: big, len: n, release: () => { if (!released) { released = true; this.giveLargeBuffer(big); } } };
    }
    try {
      this.handlers!.request(req);
    } catch (err) {
      // The session guards its handlers; reaching here is a bug in the session itself.
      req.release();
      this.handlers!.fault('request dispatch', err);
    }
  }

  private finish(end: ChannelEnd): void {
    if (this.ended) return;
    this.ended = true;
    this.stopPolling();
    this.handlers?.end(end);
  }

  private stopPolling(): void {
    this.watch?.close();
    this.watch = undefined;
  }

  /** Stops reading and closes the descriptor. A mounted filesystem whose descriptor closes is aborted by the kernel. */
  close(): void {
    if (!this.ended) this.finish({ reason: 'closed' });
    tryClose(this.fd);
  }
}
