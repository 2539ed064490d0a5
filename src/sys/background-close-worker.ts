/**
 * The thread of `BackgroundCloser`: closes the descriptors queued in the
 * shared array it is given, sleeping on a futex while none are queued. It
 * binds `close` alone, not the whole of libc.ts, so that it starts in a few
 * milliseconds.
 */
import { workerData } from 'node:worker_threads';
import koffi from 'koffi';
import { BACKGROUND_CLOSE_LAYOUT, claimQueued } from './background-close-queue.js';

const close = koffi.load('libc.so.6').func('int close(int fd)') as (fd: number) => number;
const { HEAD, TAIL, SLEEPING, STOP, SLOTS } = BACKGROUND_CLOSE_LAYOUT;
const shared = workerData as Int32Array;
const mask = shared.length - SLOTS - 1;

for (;;) {
  for (;;) {
    const fd = claimQueued(shared, Atomics.load(shared, HEAD), mask);
    if (fd < 0) break;
    // Whatever close says (EINTR included), the descriptor is gone on Linux.
    close(fd);
  }
  if (Atomics.load(shared, STOP) === 1) break;
  Atomics.store(shared, SLEEPING, 1);
  // A push between the drain and the flag would wait for the next wake-up: look once more.
  if (Atomics.load(shared, TAIL) !== Atomics.load(shared, HEAD) || Atomics.load(shared, STOP) === 1) {
    Atomics.store(shared, SLEEPING, 0);
    continue;
  }
  Atomics.wait(shared, SLEEPING, 1);
}
