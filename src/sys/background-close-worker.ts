/**
 * The thread of `BackgroundCloser`: closes the descriptors queued in the
 * shared array it is given, sleeping on a futex while none are queued. It
 * binds `close` alone, not the whole of libc.ts, so that it starts in a few
 * milliseconds.
 */
import { workerData } from 'node:worker_threads';
import koffi from 'koffi';
import { BACKGROUND_CLOSE_LAYOUT } from './background-close-layout.js';

const close = koffi.load('libc.so.6').func('int close(int fd)') as (fd: number) => number;
const { HEAD, TAIL, SLEEPING, STOP, SLOTS } = BACKGROUND_CLOSE_LAYOUT;
const shared = workerData as Int32Array;
const mask = shared.length - SLOTS - 1;

for (;;) {
  for (;;) {
    const tail = Atomics.load(shared, TAIL);
    if (tail === Atomics.load(shared, HEAD)) break;
    const fd = shared[SLOTS + (tail & mask)]!;
    // Claimed before it is closed, against the owner, which closes some
    // itself between requests: whoever moves TAIL past a slot closes it. If
    // this thread dies after the claim, the descriptor is left open rather
    // than a reused number closed twice.
    if (Atomics.compareExchange(shared, TAIL, tail, (tail + 1) | 0) !== tail) continue;
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
