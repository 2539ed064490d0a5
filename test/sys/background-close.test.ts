import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { BackgroundCloser } from '../../src/sys/background-close.js';
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
