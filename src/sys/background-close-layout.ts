/** Where `BackgroundCloser` and its thread find things in the array they share (32-bit words). */
export const BACKGROUND_CLOSE_LAYOUT = {
  /** Descriptors queued so far (written by the owner). */
  HEAD: 0,
  /** Descriptors claimed by the thread so far (written by the thread). */
  TAIL: 1,
  /** 1 while the thread waits for work. */
  SLEEPING: 2,
  /** 1: close what is queued, then exit. */
  STOP: 3,
  /** The first slot of the queue. */
  SLOTS: 4,
} as const;
