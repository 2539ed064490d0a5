/**
 * Descriptors closed on a thread of their own.
 *
 * When the kernel drops its cache (memory pressure, drop_caches, an unmount
 * of a big tree) it forgets thousands of inodes at once, and the mirror closes
 * a descriptor for each: 3-4 µs apiece on the serving thread, 30 ms for a
 * tree of 8,700 entries, paid by whichever clients are being served then. The
 * closes need nothing from the serving thread but the numbers, so they are
 * queued in shared memory and a worker thread closes them: the serving thread
 * pays a few atomic operations per descriptor, and a wake-up (a futex call)
 * only when a batch is waiting and the worker sleeps. Whenever it runs out of
 * requests the serving thread closes what is still queued itself
 * (`closeOne`), so a descriptor never stays open longer than it did when
 * every close waited for that moment.
 *
 * Only descriptors whose close no client waits for belong here (O_PATH
 * descriptors of forgotten inodes: no locks, no data to flush; a descriptor
 * whose close may free a file's space, one unlinked through the mount, is the
 * owner's to close at once, since a busy owner may not wait for a request
 * again for a while). A descriptor
 * stays allocated until the worker closes it, so the owner counts `pending`
 * against its descriptor budget, and `push` refuses (the caller closes it
 * itself) when the queue is full or the worker could not start or has failed.
 */
import { Worker } from 'node:worker_threads';
import { tryClose } from './libc.js';
import { BACKGROUND_CLOSE_LAYOUT, claimQueued } from './background-close-queue.js';

const { HEAD, TAIL, SLEEPING, STOP, SLOTS } = BACKGROUND_CLOSE_LAYOUT;

/** Queued descriptors that make a wake-up worth its futex call. */
const WAKE_BATCH = 32;

/** Closes descriptors on a worker thread (see the module comment). */
export class BackgroundCloser {
  private readonly shared: Int32Array;
  private readonly mask: number;
  private worker: Worker | undefined;
  /** False once stopped, or once the worker failed to start or died. */
  private usable = true;
  private head = 0;
  private onFailure: ((err: Error) => void) | undefined;

  /** @param capacity descriptors that may wait at once (a power of two) */
  constructor(readonly capacity = 4096) {
    if (capacity <= 0 || (capacity & (capacity - 1)) !== 0) throw new RangeError(`capacity must be a power of two, not ${capacity}`);
    this.shared = new Int32Array(new SharedArrayBuffer((SLOTS + capacity) * 4));
    this.mask = capacity - 1;
  }

  /** Descriptors queued and not closed yet. */
  get pending(): number {
    return (this.head - Atomics.load(this.shared, TAIL)) | 0;
  }

  /**
   * Starts the thread (a few milliseconds of another core's time: best done
   * before requests flow). Until then, once stopped, and if it fails, every
   * push is refused. Returns whether the thread runs.
   *
   * @param onFailure told once, with the reason, if the thread cannot start
   *   or dies later
   */
  start(onFailure?: (err: Error) => void): boolean {
    if (this.worker) return true;
    if (!this.usable) return false;
    this.onFailure = onFailure;
    try {
      const worker = new Worker(new URL('./background-close-worker.js', import.meta.url), {
        workerData: this.shared,
        // A few hundred KiB of heap is all it needs.
        resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 2 },
      });
      // Never what keeps the process alive.
      worker.unref();
      worker.on('error', (err) => this.failed(err));
      worker.on('exit', (code) => {
        if (code !== 0) this.failed(new Error(`it exited with code ${code}`));
      });
      this.worker = worker;
      return true;
    } catch (err) {
      this.usable = false;
      onFailure?.(err as Error);
      return false;
    }
  }

  /**
   * Queues `fd` to be closed by the worker; false when it cannot take it now
   * (full, or no worker), and the caller closes `fd` itself.
   */
  push(fd: number): boolean {
    if (!this.worker) return false;
    const queued = this.pending;
    if (queued >= this.capacity) {
      this.wake();
      return false;
    }
    this.shared[SLOTS + (this.head & this.mask)] = fd;
    this.head = (this.head + 1) | 0;
    Atomics.store(this.shared, HEAD, this.head);
    if (queued + 1 >= WAKE_BATCH) this.wake();
    return true;
  }

  /**
   * Closes one queued descriptor on the calling thread; false when none is
   * queued. The owner calls it when it runs out of requests, so that
   * everything queued is closed before it waits for the next one, as if it had
   * closed them itself, whether or not the worker has woken yet.
   */
  closeOne(): boolean {
    const fd = claimQueued(this.shared, this.head, this.mask);
    if (fd < 0) return false;
    tryClose(fd);
    return true;
  }

  /**
   * Lets the worker exit once it has closed what it claimed; later pushes are
   * refused. What is still queued stays for `closeOne` (at shutdown the owner
   * drains it with that).
   */
  stop(): void {
    this.usable = false;
    const worker = this.worker;
    if (!worker) return;
    this.worker = undefined;
    // Held from now until it exits by itself (promptly, once told): a process
    // that ends meanwhile would otherwise terminate it, and a thread stopped
    // while it is still loading koffi aborts the whole process.
    worker.ref();
    Atomics.store(this.shared, STOP, 1);
    Atomics.store(this.shared, SLEEPING, 0);
    Atomics.notify(this.shared, SLEEPING);
  }

  private wake(): void {
    if (Atomics.compareExchange(this.shared, SLEEPING, 1, 0) === 1) Atomics.notify(this.shared, SLEEPING);
  }

  /**
   * The worker is gone: every later push is refused, and what it left queued
   * waits for `closeOne` like the rest. It claims a slot before closing it, so
   * a descriptor it was closing when it died is at worst left open, never
   * closed twice (its number may belong to another file by now).
   */
  private failed(err: Error): void {
    if (!this.worker) return;
    this.usable = false;
    this.worker = undefined;
    this.onFailure?.(err);
  }
}
