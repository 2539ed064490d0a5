import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { BackgroundCloser } from '../../src/sys/background-close.js';
import { BACKGROUND_CLOSE_LAYOUT, claimQueued } from '../../src/sys/background-close-queue.js';
import * as sys from '../../src/sys/index.js';

/** Whether `fd` is an open descriptor of this process. */
function isOpen(fd: number): boolean {
  return fs.existsSync(`/proc/self/fd/${fd}`);
}

function openMany(n: number): number[] {
  return Array.from({ length: n }, () => sys.open('/dev/null', sys.O_PATH | sys.O_CLOEXEC));
}

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('BackgroundCloser: refuses descriptors until started, and after stop', () => {
  const closer = new BackgroundCloser(64);
  const [fd] = openMany(1);
  try {
    assert.equal(closer.push(fd!), false, 'not started: the caller keeps the descriptor');
    assert.equal(closer.pending, 0);
    assert.ok(closer.start());
    closer.stop();
    assert.equal(closer.push(fd!), false, 'stopped: refused');
    assert.equal(closer.start(), false, 'a stopped closer does not start again');
    assert.ok(isOpen(fd!));
  } finally {
    sys.tryClose(fd!);
  }
});

test('BackgroundCloser: closes a batch on its thread; the owner closes what is left between requests', async () => {
  const closer = new BackgroundCloser(1024);
  assert.ok(closer.start());
  try {
    const batch = openMany(100);
    for (const fd of batch) assert.ok(closer.push(fd));
    await until('the batch to be closed', () => closer.pending === 0 && batch.every((fd) => !isOpen(fd)));
    // Fewer than a wake-up's worth do not wake the thread: the owner closes them.
    const few = openMany(3);
    for (const fd of few) assert.ok(closer.push(fd));
    let closedHere = 0;
    while (closer.closeOne()) closedHere++;
    assert.equal(closer.pending, 0);
    assert.ok(closedHere <= 3);
    // (The thread, if still awake from the batch, may be closing the last one it claimed.)
    await until('the few to be closed', () => few.every((fd) => !isOpen(fd)));
    assert.equal(closer.closeOne(), false, 'nothing queued');
  } finally {
    closer.stop();
  }
});

test('BackgroundCloser: a full queue refuses, and after stop the owner closes what is left', async () => {
  const closer = new BackgroundCloser(16);
  assert.ok(closer.start());
  const fds = openMany(64);
  const refused: number[] = [];
  for (const fd of fds) if (!closer.push(fd)) refused.push(fd);
  const taken = fds.filter((fd) => !refused.includes(fd));
  assert.ok(taken.length >= 16, `took ${taken.length}`);
  // Never more than the capacity waits; what was refused stays the caller's, open.
  assert.ok(closer.pending <= 16);
  for (const fd of refused) assert.ok(isOpen(fd));
  closer.stop();
  while (closer.closeOne());
  assert.equal(closer.pending, 0);
  await until('the queued descriptors to be closed', () => taken.every((fd) => !isOpen(fd)));
  for (const fd of refused) {
    assert.ok(isOpen(fd));
    sys.tryClose(fd);
  }
});

test('BackgroundCloser: the capacity must be a power of two', () => {
  assert.throws(() => new BackgroundCloser(100), RangeError);
  assert.throws(() => new BackgroundCloser(0), RangeError);
});

test('claimQueued: a side whose head is older than TAIL claims nothing', () => {
  const { HEAD, TAIL, SLOTS } = BACKGROUND_CLOSE_LAYOUT;
  const shared = new Int32Array(new SharedArrayBuffer((SLOTS + 8) * 4));
  const mask = 7;
  for (let i = 0; i < 8; i++) shared[SLOTS + i] = 100 + i;
  // Three queued; the thread read HEAD when one was.
  shared[HEAD] = 3;
  assert.equal(claimQueued(shared, 1, mask), 100);
  // The owner claimed the other two meanwhile.
  assert.equal(claimQueued(shared, 3, mask), 101);
  assert.equal(claimQueued(shared, 3, mask), 102);
  // The thread's stale head (1) is behind TAIL (3): the slot at TAIL is not queued.
  assert.equal(claimQueued(shared, 1, mask), -1);
  assert.equal(claimQueued(shared, 3, mask), -1);
  assert.equal(shared[TAIL], 3, 'TAIL never passes HEAD');
  // Across the wrap of the 32-bit counters.
  shared[TAIL] = 0x7fffffff;
  assert.equal(claimQueued(shared, -0x80000000, mask), 100 + (0x7fffffff & mask));
  assert.equal(shared[TAIL], -0x80000000);
  assert.equal(claimQueued(shared, 0x7fffffff, mask), -1, 'a head one behind TAIL, across the wrap');
  assert.equal(claimQueued(shared, -0x80000000, mask), -1);
});

test('BackgroundCloser: under load from both sides, each queued descriptor is closed once and nothing else is', async () => {
  const closer = new BackgroundCloser(64);
  assert.ok(closer.start());
  // Descriptors that are never queued: a claim past HEAD would close stale numbers, these among them.
  const bystanders = openMany(32);
  try {
    const end = Date.now() + 1000;
    let pushed = 0;
    while (Date.now() < end) {
      // A batch wakes the thread; this side then drains the queue too, racing its claims.
      for (let i = 0; i < 40; i++) {
        const fd = sys.open('/dev/null', sys.O_PATH | sys.O_CLOEXEC);
        if (closer.push(fd)) pushed++;
        else sys.tryClose(fd);
      }
      while (closer.closeOne()) assert.ok(closer.pending >= 0, `pending ${closer.pending}: TAIL ran past HEAD`);
      assert.ok(closer.pending >= 0, `pending ${closer.pending}: TAIL ran past HEAD`);
      if (pushed % 4000 < 40) await new Promise((r) => setImmediate(r));
    }
    while (closer.closeOne());
    assert.equal(closer.pending, 0);
    assert.ok(pushed > 1000, `pushed ${pushed}`);
    for (const fd of bystanders) assert.ok(isOpen(fd), `descriptor ${fd} was closed by the closer`);
  } finally {
    closer.stop();
    for (const fd of bystanders) sys.tryClose(fd);
  }
});
