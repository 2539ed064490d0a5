/**
 * The device's doorbell. Node has no readiness events for a character device,
 * and a blocking read would pin a libuv pool thread, so this thread sleeps in
 * poll(2) and tells the main thread when /dev/fuse is readable. It then waits
 * on a shared flag until the main thread has drained the device, so a
 * level-triggered poll does not spin while requests are being read.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { pollOne } from '../sys/index.js';
import { POLLIN } from '../sys/constants.js';
import { DoorbellState } from './doorbell.js';

const { fd, shared } = workerData as { fd: number; shared: SharedArrayBuffer };
const state = new Int32Array(shared);
// The timeout bounds how long a stop request waits when the device is idle.
const POLL_TIMEOUT_MS = 500;

while (Atomics.load(state, DoorbellState.STOP) === 0) {
  let revents: number;
  try {
    revents = pollOne(fd, POLLIN, POLL_TIMEOUT_MS);
  } catch (err) {
    parentPort!.postMessage({ error: String((err as Error).message) });
    break;
  }
  if (revents === 0) continue;
  Atomics.store(state, DoorbellState.ARMED, 0);
  parentPort!.postMessage(revents);
  // Sleep until the main thread has drained the device (or asks us to stop).
  while (Atomics.load(state, DoorbellState.ARMED) === 0 && Atomics.load(state, DoorbellState.STOP) === 0) {
    Atomics.wait(state, DoorbellState.ARMED, 0, POLL_TIMEOUT_MS);
  }
}
