/**
 * Closes postponed to the moment between requests. A close costs
 * microseconds (a descriptor whose file the close frees, a backing-id ioctl)
 * that the client waiting for the current reply would otherwise pay; the
 * session's idle work drains the queue instead. A bound keeps postponed closes
 * from crowding the descriptor limit: past it, the push closes them at once.
 */

/** Postponed closes waiting, at most, before `push` closes them itself. */
export const MAX_DEFERRED_CLOSES = 256;

export class DeferredCloses<T> {
  private readonly waiting: T[] = [];

  /** @param close closes one item; it must not throw (log inside it). */
  constructor(private readonly close: (item: T) => void, private readonly max = MAX_DEFERRED_CLOSES) {}

  /** Queues `item`; past the bound, closes everything waiting now. */
  push(item: T): void {
    this.waiting.push(item);
    if (this.waiting.length > this.max) while (this.closeOne());
  }

  /** Closes one waiting item (the newest); false when none is waiting. */
  closeOne(): boolean {
    if (this.waiting.length === 0) return false;
    this.close(this.waiting.pop() as T);
    return true;
  }

  /** Items queued and not closed yet. */
  get length(): number {
    return this.waiting.length;
  }
}
