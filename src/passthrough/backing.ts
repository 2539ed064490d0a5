/**
 * BackingRegistry: the connection's passthrough backing ids. An id names a
 * backing file for the kernel; the arbiter decides which inode holds which id
 * and when the last user is gone, this registry opens and closes them on the
 * device and counts what is open, so a leak shows in the stats.
 */
import type { BackingId } from '../abi/types.js';

/** The two device ioctls, as the transport offers them. */
export interface BackingDevice {
  backingOpen(fd: number): number;
  backingClose(id: number): void;
}

export class BackingRegistry {
  private readonly open = new Set<number>();

  constructor(private readonly device: BackingDevice, private readonly log: (line: string) => void) {}

  /** Registers the file behind `fd` (any descriptor, O_PATH included). Throws the ioctl's SysError. */
  register(fd: number): BackingId {
    const id = this.device.backingOpen(fd);
    this.open.add(id);
    return id as BackingId;
  }

  close(id: BackingId): void {
    if (!this.open.delete(id)) return;
    try {
      this.device.backingClose(id);
    } catch (err) {
      // ENOENT/ENOTCONN after an abort: the kernel dropped every id with the connection.
      this.log(`fusekit: closing backing id ${id} failed: ${(err as Error).message}`);
    }
  }

  /** Ids currently registered. Returns to 0 when no passthrough file is open. */
  get openCount(): number {
    return this.open.size;
  }

  closeAll(): void {
    for (const id of [...this.open]) this.close(id as BackingId);
  }
}
