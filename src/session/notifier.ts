/**
 * Notifications: messages the server sends the kernel unasked (unique 0).
 * The session hands one `Notifier` to the filesystem's `init`.
 *
 * Two ways out. Messages the kernel handles without sleeping on a lock (poll
 * wakeups, attribute invalidations, prune, resend, epoch, retrieve) are
 * written at once on the calling thread, like replies. Messages the kernel may
 * make wait for a lock that a request still unanswered holds (entry
 * invalidations and deletes: the directory's lock; page invalidations and
 * stores: the pages' locks) are written from a libuv pool thread, one at a
 * time and in the order they were sent, so the serving thread keeps
 * answering the request the kernel is waiting on. Invalidations commute
 * (each only makes the kernel ask again), so up to `OFF_THREAD_WRITERS` of
 * them are written at once: one waiting for a busy directory does not hold
 * up the others. An invalidation identical to one still waiting (not yet
 * started) is not queued again: the waiting one is written after the call and
 * does the same, so a source that changes the same names over and over (a
 * watcher's view of files renamed back and forth) cannot grow the queue past
 * the number of distinct invalidations. Stores are written one at a time, in
 * order. Why the serving thread
 * must not write them itself: it would sleep in write(2) until a request is
 * answered that only it can answer, possibly one it has not even read yet.
 */
import {
  EXPIRE_ONLY, encodeNotifyDelete, encodeNotifyIncEpoch, encodeNotifyInvalEntry, encodeNotifyInvalInode, encodeNotifyPoll,
  encodeNotifyPrune, encodeNotifyResend, encodeNotifyRetrieve, encodeNotifyStore, InitFlag, OUT_HEADER_SIZE,
} from '../abi/index.js';
import { FuseError } from '../fs/errors.js';
import type { InvalEntryOptions, Notifier, RetrieveOptions } from '../fs/filesystem.js';
import type { Channel } from '../transport/channel.js';
import { constants as osConstants } from 'node:os';

const E = osConstants.errno;
/** Node ids per NOTIFY_PRUNE message: 32 bytes of headers plus 8 per id fit the 64 KiB buffer. */
const PRUNE_BATCH = 4096;
/** Largest NOTIFY_STORE payload per message; larger stores are split. */
const STORE_CHUNK = 1 << 20;
/**
 * Off-thread writes in flight at once. Each holds one of libuv's pool
 * threads (4 by default) while the kernel makes it wait, so some are always
 * left for the filesystem's own calls.
 */
const OFF_THREAD_WRITERS = 2;
/** Default for `RetrieveOptions.timeoutMs`. */
export const DEFAULT_RETRIEVE_TIMEOUT_MS = 5000;

/** What the notifier needs to know of the negotiation: the protocol minor and the capabilities in force. */
export interface NotifierState {
  /** The negotiated minor (0 before INIT). */
  minor(): number;
  /** Capabilities in force (`InitFlag` bits; 0 before INIT). */
  enabled(): bigint;
}

interface OffThreadMessage {
  b: Buffer;
  len: number;
  /** Settles every caller that sent this message (identical invalidations share one write). */
  done: Promise<number>;
  resolve(r: number): void;
}

interface PendingRetrieve {
  resolve(data: Buffer): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/** Writes notifications through the channel, and matches NOTIFY_REPLY requests to the retrieves that asked for them. */
export class ChannelNotifier implements Notifier {
  private readonly buf = Buffer.allocUnsafeSlow(64 * 1024);
  /**
   * Off-thread messages not yet written, each in its own buffer, oldest first
   * (a Map keeps insertion order and takes its first entry in constant time).
   * Invalidations are keyed by what they invalidate, so an identical one joins
   * the waiting one; every other message gets a key of its own.
   */
  private readonly waiting = new Map<string | number, OffThreadMessage>();
  private nextUniqueKey = 0;
  private writing = 0;
  /** Orders stores among themselves. */
  private storeTail: Promise<unknown> = Promise.resolve();
  private readonly retrieves = new Map<bigint, PendingRetrieve>();
  private nextRetrieve = 1n;
  private closed = false;

  constructor(private readonly channel: Channel, private readonly state: NotifierState) {}

  /** Messages waiting for, or in, an off-thread write. */
  get deferredPending(): number {
    return this.waiting.size + this.writing;
  }

  invalAttr(nodeid: number): number {
    return this.channel.write(this.buf, encodeNotifyInvalInode(this.buf, nodeid, -1, 0));
  }

  invalInode(nodeid: number, offset = 0, length = 0): Promise<number> {
    if (offset < 0) return Promise.resolve(this.invalAttr(nodeid));
    const key = `i${nodeid}:${offset}:${length}`;
    const same = this.waiting.get(key);
    if (same) return same.done;
    const b = Buffer.allocUnsafe(OUT_HEADER_SIZE + 24);
    return this.offThread(b, encodeNotifyInvalInode(b, nodeid, offset, length), key);
  }

  invalEntry(parent: number, name: string | Buffer, options: InvalEntryOptions = {}): Promise<number> {
    let flags = 0;
    if (options.expireOnly) {
      if ((this.state.enabled() & InitFlag.HAS_EXPIRE_ONLY) === 0n) return Promise.resolve(-E.ENOSYS);
      flags |= EXPIRE_ONLY;
    }
    const bytes = typeof name === 'string' ? Buffer.from(name) : name;
    const key = `e${parent}:${flags}:${bytes.toString('latin1')}`;
    const same = this.waiting.get(key);
    if (same) return same.done;
    const b = Buffer.allocUnsafe(OUT_HEADER_SIZE + 16 + bytes.length + 1);
    return this.offThread(b, encodeNotifyInvalEntry(b, parent, bytes, flags), key);
  }

  delete(parent: number, child: number, name: string | Buffer): Promise<number> {
    const bytes = typeof name === 'string' ? Buffer.from(name) : name;
    const b = Buffer.allocUnsafe(OUT_HEADER_SIZE + 24 + bytes.length + 1);
    return this.offThread(b, encodeNotifyDelete(b, parent, child, bytes));
  }

  store(nodeid: number, offset: number, data: Uint8Array): Promise<number> {
    const done = this.storeTail.then(() => this.storeNow(nodeid, offset, data));
    this.storeTail = done;
    return done;
  }

  private async storeNow(nodeid: number, offset: number, data: Uint8Array): Promise<number> {
    const all = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    let r = 0;
    for (let at = 0; at < all.length || (at === 0 && all.length === 0); at += STORE_CHUNK) {
      const part = all.subarray(at, at + STORE_CHUNK);
      const b = Buffer.allocUnsafe(OUT_HEADER_SIZE + 24 + part.length);
      r = await this.offThread(b, encodeNotifyStore(b, nodeid, offset + at, part));
      if (r < 0 || all.length === 0) break;
    }
    return r;
  }

  retrieve(nodeid: number, offset: number, size: number, options: RetrieveOptions = {}): Promise<Buffer> {
    if (this.closed) return Promise.reject(new FuseError(E.ENOTCONN, 'the connection has ended'));
    const unique = this.nextRetrieve++;
    return new Promise<Buffer>((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? DEFAULT_RETRIEVE_TIMEOUT_MS;
      const timer = setTimeout(() => {
        this.retrieves.delete(unique);
        reject(new FuseError(E.ETIMEDOUT, `no NOTIFY_REPLY for retrieve ${unique} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.retrieves.set(unique, { resolve, reject, timer });
      // The kernel only queues a request here; it takes no lock a pending request could hold.
      const r = this.channel.write(this.buf, encodeNotifyRetrieve(this.buf, unique, nodeid, offset, size));
      if (r < 0) {
        clearTimeout(timer);
        this.retrieves.delete(unique);
        reject(new FuseError(-r, `retrieve of node ${nodeid} refused by the kernel`));
      }
    });
  }

  /**
   * A NOTIFY_REPLY request arrived: resolves the retrieve it answers. Returns
   * false when none waits for it (timed out already, or not ours).
   */
  onReply(unique: bigint, data: Buffer): boolean {
    const p = this.retrieves.get(unique);
    if (!p) return false;
    this.retrieves.delete(unique);
    clearTimeout(p.timer);
    p.resolve(Buffer.from(data));
    return true;
  }

  pollWakeup(kh: bigint): number {
    return this.channel.write(this.buf, encodeNotifyPoll(this.buf, kh));
  }

  prune(nodeids: readonly number[]): number {
    if (this.state.minor() < 45) return -E.ENOSYS;
    for (let i = 0; i < nodeids.length; i += PRUNE_BATCH) {
      const r = this.channel.write(this.buf, encodeNotifyPrune(this.buf, nodeids.slice(i, i + PRUNE_BATCH)));
      if (r < 0) return r;
    }
    return 0;
  }

  resend(): number {
    if ((this.state.enabled() & InitFlag.HAS_RESEND) === 0n) return -E.ENOSYS;
    return this.channel.write(this.buf, encodeNotifyResend(this.buf));
  }

  incEpoch(): number {
    if (this.state.minor() < 44) return -E.ENOSYS;
    return this.channel.write(this.buf, encodeNotifyIncEpoch(this.buf));
  }

  /** The connection is gone: waiting retrieves fail with ENOTCONN, later ones at once. */
  close(): void {
    this.closed = true;
    for (const [unique, p] of this.retrieves) {
      clearTimeout(p.timer);
      p.reject(new FuseError(E.ENOTCONN, `the connection ended before retrieve ${unique} was answered`));
    }
    this.retrieves.clear();
  }

  /** Queues one message for an off-thread write (under `key`, or a key of its own); started as soon as a writer is free. */
  private offThread(b: Buffer, len: number, key: string | number = this.nextUniqueKey++): Promise<number> {
    if (!this.channel.writeOffThread) return Promise.resolve(this.channel.write(b, len));
    let resolve!: (r: number) => void;
    const done = new Promise<number>((r) => {
      resolve = r;
    });
    this.waiting.set(key, { b, len, done, resolve });
    this.startWriters();
    return done;
  }

  private startWriters(): void {
    while (this.writing < OFF_THREAD_WRITERS && this.waiting.size > 0) {
      const [key, w] = this.waiting.entries().next().value as [string | number, OffThreadMessage];
      this.waiting.delete(key);
      this.writing++;
      void this.channel.writeOffThread!(w.b, w.len).then((r) => {
        this.writing--;
        w.resolve(r);
        this.startWriters();
      });
    }
  }
}
