/**
 * BackingRegistry: the connection's passthrough backing ids. An id names a
 * backing file for the kernel; the arbiter decides which inode holds which id
 * and when the last user is gone, this registry opens and closes them on the
 * device and counts what is open, so a leak shows in the stats.
 */
import type { BackingId } from '../abi/types.js';
import { DeferredCloses } from '../sys/deferred-close.js';

/** The two device ioctls, as the transport offers them. */
export interface BackingDevice {
  backingOpen(fd: number): number;
  backingClose(id: number): void;
}

export class BackingRegistry {
  private readonly open = new Set<number>();
  /**
   * Ids whose last user is gone, closed between requests: the close ioctl
   * costs microseconds that the next request (RELEASE comes between a
   * client's close and its next call) would otherwise wait for. The kernel
   * holds its own reference for files still open on an id.
   */
  private readonly closing = new DeferredCloses<number>((id) => this.closeNow(id));

  constructor(private readonly device: BackingDevice, private readonly log: (line: string) => void) {}

  /** Registers the file behind `fd` (any descriptor, O_PATH included). Throws the ioctl's SysError. */
  register(fd: number): BackingId {
    const id = this.device.backingOpen(fd);
    this.open.add(id);
    return id as BackingId;
  }

  /** Drops `id`: closed on the device at the next idle moment (closeOnePending). */
  close(id: BackingId): void {
    if (!this.open.delete(id)) return;
    this.closing.push(id);
  }

  /** Closes one dropped id on the device; false when none is waiting. */
  closeOnePending(): boolean {
    return this.closing.closeOne();
  }

  private closeNow(id: number): void {
    try {
      this.device.backingClose(id);
    } catch (err) {
      // ENOENT/ENOTCONN after an abort: the kernel dropped every id with the connection.
      this.log(`fusekit: closing backing id ${id} failed: ${(err as Error).message}`);
    }
  }

  /** Ids registered with the kernel, dropped ones not closed yet included. Returns to 0 when no passthrough file is open and the channel is idle. */
  get openCount(): number {
    return this.open.size + this.closing.length;
  }

  closeAll(): void {
    for (const id of this.open) this.closing.push(id);
    this.open.clear();
    while (this.closeOnePending());
  }
}
