/**
 * The queue `BackgroundCloser` and its thread share: its layout (32-bit
 * words of one shared array) and how either side takes a descriptor from it.
 * Kept apart so that the thread loads nothing else.
 */
export const BACKGROUND_CLOSE_LAYOUT = {
  /** Descriptors queued so far (written by the owner). */
  HEAD: 0,
  /** Descriptors claimed so far, by either side. */
  TAIL: 1,
  /** 1 while the thread waits for work. */
  SLEEPING: 2,
  /** 1: close what is queued, then exit. */
  STOP: 3,
  /** The first slot of the queue. */
  SLOTS: 4,
} as const;

/**
 * Claims the oldest descriptor queued before `head` in `shared` (slots
 * indexed with `mask`) and returns it, or -1 when none is. Both sides claim
 * by compare-and-swap on TAIL: whoever moves TAIL past a slot closes its
 * descriptor. A claim comes before the close, so a side that dies between
 * the two leaves a descriptor open rather than close a reused number twice.
 *
 * `head` may be older than HEAD (the thread reads it once per claim, and the
 * owner may queue and claim meanwhile), so the other side may already have
 * moved TAIL past it: nothing before `head` is left then. Testing only for
 * equality would claim the slot at TAIL, one not queued yet, and from then on
 * TAIL would run ahead of HEAD and both sides would close stale numbers,
 * other files' descriptors among them, without end. Counters wrap, hence the
 * signed difference.
 */
export function claimQueued(shared: Int32Array, head: number, mask: number): number {
  const { TAIL, SLOTS } = BACKGROUND_CLOSE_LAYOUT;
  for (;;) {
    const tail = Atomics.load(shared, TAIL);
    if (((head - tail) | 0) <= 0) return -1;
    const fd = shared[SLOTS + (tail & mask)]!;
    if (Atomics.compareExchange(shared, TAIL, tail, (tail + 1) | 0) === tail) return fd;
  }
}
