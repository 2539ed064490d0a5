/** Slots of the Int32Array shared between the main thread and the poll thread. */
export const DoorbellState = {
  /** 1 while the poll thread may poll; the main thread sets it after draining. */
  ARMED: 0,
  /** 1 asks the poll thread to exit. */
  STOP: 1,
} as const;
