import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChannelNotifier } from '../../src/session/notifier.js';
import { InitFlag, NotifyCode } from '../../src/abi/index.js';
import type { Channel } from '../../src/transport/channel.js';

/**
 * A channel whose off-thread writes complete only when the test says so,
 * recording each message's notify code and bytes: what a busy kernel does to
 * invalidations that wait for a directory's lock.
 */
function slowChannel(): { channel: Channel; written: { code: number; bytes: Buffer }[]; finishOne(): void; inFlight(): number } {
  const written: { code: number; bytes: Buffer }[] = [];
  const pending: (() => void)[] = [];
  const channel = {
    readBufferSize: 4096,
    replyScratch: Buffer.alloc(4096),
    takeLargeBuffer: () => undefined,
    giveLargeBuffer: () => undefined,
    start: () => undefined,
    write: (buf: Buffer, len: number) => {
      written.push({ code: buf.readInt32LE(4), bytes: Buffer.from(buf.subarray(0, len)) });
      return 0;
    },
    writeOffThread: (buf: Buffer, len: number) =>
      new Promise<number>((resolve) => {
        pending.push(() => {
          written.push({ code: buf.readInt32LE(4), bytes: Buffer.from(buf.subarray(0, len)) });
          resolve(0);
        });
      }),
    backingOpen: () => -1,
    backingClose: () => undefined,
  } satisfies Channel;
  return { channel, written, finishOne: () => pending.shift()?.(), inFlight: () => pending.length };
}

const state = { minor: () => 45, enabled: () => InitFlag.HAS_EXPIRE_ONLY };
const tick = () => new Promise((r) => setImmediate(r));

test('ChannelNotifier: an invalidation identical to one still waiting joins it, so the queue holds each distinct one once', async () => {
  const { channel, written, finishOne, inFlight } = slowChannel();
  const n = new ChannelNotifier(channel, state);
  const results: Promise<number>[] = [];
  // A source renaming three files back and forth, seen 1,000 times while the kernel is slow.
  for (let i = 0; i < 1000; i++) {
    for (const name of ['a', 'b', 'c']) results.push(n.invalEntry(7, name));
    results.push(n.invalInode(7, 0, 0));
  }
  // Two writers took the first two at once (a and b); the rest wait, one of
  // each distinct message: a and b again (the ones being written may reach
  // the kernel before the later changes), c and the inode.
  assert.equal(inFlight(), 2);
  assert.equal(n.deferredPending, 6);
  // Expiring is not dropping: a different message, queued apart.
  results.push(n.invalEntry(7, 'a', { expireOnly: true }));
  assert.equal(n.deferredPending, 7);
  while (n.deferredPending > 0) {
    finishOne();
    await tick();
  }
  assert.deepEqual(await Promise.all(results), results.map(() => 0));
  // 4,001 calls, 7 writes, each where it was first queued: a and b, c, the
  // inode, a and b again, the expire.
  const E = NotifyCode.INVAL_ENTRY;
  assert.deepEqual(written.map((w) => w.code), [E, E, E, NotifyCode.INVAL_INODE, E, E, E]);
});

test('ChannelNotifier: an invalidation already being written is sent again (it may have reached the kernel before the change it is for)', async () => {
  const { channel, written, finishOne } = slowChannel();
  const n = new ChannelNotifier(channel, state);
  const first = n.invalEntry(7, 'a');
  const second = n.invalEntry(7, 'a');
  // The first went to a writer at once, so the second waits on its own.
  assert.equal(n.deferredPending, 2);
  finishOne();
  finishOne();
  await Promise.all([first, second]);
  assert.equal(written.length, 2);
});

test('ChannelNotifier: stores are never merged, even when identical', async () => {
  const { channel, written, finishOne } = slowChannel();
  const n = new ChannelNotifier(channel, state);
  const data = Buffer.from('x');
  n.invalEntry(1, 'busy1');
  n.invalEntry(1, 'busy2');
  const stores = [n.store(9, 0, data), n.store(9, 0, data)];
  for (let i = 0; i < 20 && n.deferredPending > 0; i++) {
    finishOne();
    await tick();
  }
  await Promise.all(stores);
  assert.equal(written.filter((w) => w.code === NotifyCode.STORE).length, 2);
});
